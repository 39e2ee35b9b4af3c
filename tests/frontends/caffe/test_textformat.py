"""The protobuf text-format grammar: every notation Caffe files use, and precise syntax errors."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cortado.errors import ModelFormatError
from cortado.frontends.caffe.textformat import Ident, Message, parse_text


def values(msg: Message, name: str):
    return msg.get_all(name)


def test_nested_messages_in_every_spelling():
    m = parse_text('a { x: 1 } b: { x: 2 } c < x: 3 > d: < x: 4 >')
    assert [f.name for f in m] == ["a", "b", "c", "d"]
    assert [f.value.get("x") for f in m] == [1, 2, 3, 4]


def test_repeated_fields_by_repetition_and_list_syntax():
    m = parse_text('dim: 1 dim: 2 dim: [3, 4] shape: [{ d: 1 }, { d: 2 }] empty: []')
    assert values(m, "dim") == [1, 2, 3, 4]
    assert [s.get("d") for s in values(m, "shape")] == [1, 2]
    assert values(m, "empty") == []


@pytest.mark.parametrize("text, expected", [
    ("0", 0), ("42", 42), ("-7", -7), ("0x1F", 31), ("0X10", 16), ("017", 15), ("-0x10", -16),
    ("1.", 1.0), (".5", 0.5), ("1.5", 1.5), ("1e3", 1000.0), ("1E-3", 0.001), ("2.5e+2", 250.0),
    ("1.5f", 1.5), ("3F", 3.0), ("-1e-5", -1e-5), ("- 2.5", -2.5),
])
def test_numbers_in_every_notation(text, expected):
    v = parse_text(f"v: {text}").get("v")
    assert v == expected and type(v) is type(expected)


@pytest.mark.parametrize("text, check", [
    ("inf", lambda v: isinstance(v, Ident) and v == "inf"), ("-inf", lambda v: v == -math.inf), ("-Infinity", lambda v: v == -math.inf),
    ("nan", lambda v: isinstance(v, Ident)), ("-nan", math.isnan),
])
def test_inf_and_nan(text, check):
    """A bare ``inf``/``nan`` is an identifier until the schema reads it as a float field; a
    negative one can only be a number."""
    assert check(parse_text(f"v: {text}").get("v"))


def test_identifiers_are_kept_apart_from_strings():
    m = parse_text('pool: MAX name: "MAX" flag: true')
    assert isinstance(m.get("pool"), Ident) and m.get("pool") == "MAX"
    assert type(m.get("name")) is str
    assert m.get("flag") == "true"


def test_strings_escapes_quotes_and_concatenation():
    m = parse_text(r'''a: "tab\there" b: 'single "q"' c: "x" 'y' "z" d: "\101\x42\u00e9\n" e: "a\\b\"c"''')
    assert m.get("a") == "tab\there"
    assert m.get("b") == 'single "q"'
    assert m.get("c") == "xyz"
    assert m.get("d") == "AB\u00e9\n"
    assert m.get("e") == 'a\\b"c'


def test_comments_and_separators():
    m = parse_text('# header\nname: "n" # trailing\n; layer { a: 1, b: 2; c: 3 }, top: "t";\n# end')
    assert m.get("name") == "n"
    assert [f.name for f in m.get("layer")] == ["a", "b", "c"]
    assert m.get("top") == "t"


def test_positions_are_one_based_lines_and_columns():
    m = parse_text('name: "x"\nlayer {\n  type: "ReLU"\n}\n')
    layer = m.first("layer")
    assert (layer.line, layer.column) == (2, 1)
    t = layer.value.first("type")
    assert (t.line, t.column) == (3, 3)


@pytest.mark.parametrize("text, where, expect", [
    ('layer { name: "a" ', "f.prototxt:1:19", "unexpected end of file; expected '}' or a field name"),
    ('layer {\n  name: "a"\n  top: "b" }\n}', "f.prototxt:4:1", "unexpected '}'"),
    ("a: 1 }", "f.prototxt:1:6", "unexpected '}'"),
    ("a: b: c", "f.prototxt:1:5", "unexpected ':'"),
    ('a: "open', "f.prototxt:1:4", "unexpected character '\"'"),
    ("a: [1, 2", "f.prototxt:1:9", "expected ',' or ']'"),
    ("a: -x", "f.prototxt:1:4", "'-' must be followed by a number"),
    (r'a: "\q"', "f.prototxt:1:4", "unknown escape"),
    ("a: 09", "f.prototxt:1:4", "not a valid octal number"),
    ("a: 1 @", "f.prototxt:1:6", "unexpected character '@'"),
])
def test_syntax_errors_name_file_line_column_and_expectation(text, where, expect):
    with pytest.raises(ModelFormatError) as e:
        parse_text(text, "f.prototxt")
    assert e.value.where == where
    assert expect in e.value.message


def test_unclosed_brace_points_at_where_it_opened():
    with pytest.raises(ModelFormatError) as e:
        parse_text('layer {\n  name: "a"\n  conv { k: 1\n}\n', "n.prototxt")
    assert "the '{' opened at line 1, column 7 is never closed" in e.value.hint


def test_every_shared_prototxt_parses(shared_dir):
    files = sorted((shared_dir / "models" / "caffe").glob("*.prototxt"))
    assert files
    for f in files:
        m = parse_text(f.read_text(), str(f))
        assert m.all("layer") or m.all("layers"), f.name


# -- round trip: any message written in text format parses back to the same tree ----------------
_names = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)
_scalars = st.one_of(
    st.integers(-2**40, 2**40),
    st.floats(allow_nan=False, allow_infinity=True, width=64),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
    st.sampled_from(["MAX", "AVE", "TEST", "true"]).map(Ident),
)
_trees = st.recursive(st.lists(st.tuples(_names, _scalars), max_size=4),
                      lambda kids: st.lists(st.tuples(_names, st.one_of(_scalars, kids)), max_size=4),
                      max_leaves=12)


def _render(fields, style: int) -> str:
    parts = []
    for i, (name, value) in enumerate(fields):
        if isinstance(value, list):
            body = _render(value, style + 1)
            parts.append(f"{name} {{ {body} }}" if (style + i) % 2 else f"{name}: <\n{body}\n>")
        elif isinstance(value, Ident):
            parts.append(f"{name}: {value}")
        elif isinstance(value, str):
            esc = value.encode("unicode_escape").decode("ascii").replace('"', '\\"')
            parts.append(f'{name}: "{esc}"')
        elif isinstance(value, float):
            text = "inf" if value == math.inf else "-inf" if value == -math.inf else repr(value)
            parts.append(f"{name}: {text}")
        else:
            parts.append(f"{name}: {value}")
        parts.append([" ", ", ", ";\n", " # c\n"][(style + i) % 4])
    return "".join(parts)


def _plain(msg: Message):
    return [(f.name, _plain(f.value) if isinstance(f.value, Message) else f.value) for f in msg]


def _expected(fields):
    return [(n, _expected(v) if isinstance(v, list) else (float(v) if isinstance(v, float) else v)) for n, v in fields]


@settings(max_examples=60)
@given(_trees)
def test_round_trip(fields):
    assert _plain(parse_text(_render(fields, 0))) == _expected(fields)
