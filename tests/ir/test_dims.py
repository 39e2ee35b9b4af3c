"""Symbolic dims: polynomial arithmetic agrees with integer arithmetic under any binding."""

from hypothesis import given
from hypothesis import strategies as st

from cortado.ir import Sym
from cortado.ir.dims import SymExpr, prod, sanitize_symbol

N, S = Sym("N"), Sym("S")
ints = st.integers(1, 50)


def test_structural_equality_and_normalization():
    assert 3 * N == N * 3
    assert N * S * 2 == 2 * S * N
    assert (N * 12) // 12 == N
    assert (N * 12) // (N * 3) == 4
    assert (N * 3) % 3 == 0
    assert N - N == 0 and isinstance(N - N, int)
    assert N != 3 and N != S
    assert hash(N * 2) == hash(2 * N)


def test_opaque_division_evaluates():
    e = (N + 1) // 2
    assert isinstance(e, SymExpr)
    assert e.evaluate({"N": 5}) == 3
    assert ((N * 3 + 2) % 4).evaluate({"N": 7}) == 23 % 4
    assert str(e) == "((N + 1) // 2)"


@given(ints, ints, ints, ints)
def test_polynomials_match_integers(n, s, a, b):
    env = {"N": n, "S": s}
    exprs = [N * a + S * b, (N + a) * (S + b), prod([N, a, S]), (N * a + b) // (a + 1), (N * S + a) % (b + 1),
             N * a - S * b]
    plain = [n * a + s * b, (n + a) * (s + b), n * a * s, (n * a + b) // (a + 1), (n * s + a) % (b + 1),
             n * a - s * b]
    for e, v in zip(exprs, plain):
        got = e.evaluate(env) if isinstance(e, SymExpr) else e
        assert got == v


def test_sanitize_symbol():
    assert sanitize_symbol("batch size") == "batch_size"
    assert sanitize_symbol("0") == "d_0"
    assert sanitize_symbol("unk__3") == "unk__3"


@st.composite
def _dims(draw):
    """A small polynomial in N and S with integer coefficients (negative ones included), at
    times with an opaque ``//`` atom."""
    terms = [N, S, N * S, N * N]
    d = draw(st.integers(-4, 4))
    for t in terms:
        if draw(st.booleans()):
            d = d + draw(st.integers(-2, 2)) * t
    if draw(st.booleans()):     # an opaque floor division, with a numerator that may go below 0
        d = d + draw(st.integers(-1, 2)) * ((N + draw(st.integers(-3, 1))) // draw(st.integers(2, 3)))
    return d


@given(_dims(), st.one_of(st.integers(-3, 3), _dims()), st.integers(0, 6), st.integers(0, 6))
def test_decided_comparisons_hold_at_every_binding(a, b, n, s):
    """``compare`` and ``at_least`` answer only what holds for every size (0 included):
    checked against integer arithmetic at a drawn binding."""
    from cortado.ir.dims import _evaluate, at_least, compare

    env = {"N": n, "S": s}
    x, y = _evaluate(a, env), _evaluate(b, env)
    c = compare(a, b)
    if c is not None:
        assert c == (x > y) - (x < y), (a, b, env)
    if at_least(a, b):
        assert x >= y, (a, b, env)


def test_decided_comparisons_on_exporter_patterns():
    from cortado.ir.dims import at_least, compare

    assert compare(N, -1) == 1 and compare(N * S + 1, 0) == 1 and compare(-N - 1, 0) == -1
    assert compare(N, N) == 0 and compare(N, 1) is None and compare(N, S) is None
    assert at_least(N, 0) and at_least(N * S, 0) and not at_least(N, 1) and not at_least(N, S)
    # a window's output size: (H - 3) // 2 is below 0 for H < 3, (H + 3) // 2 never is
    assert compare(1 + (N - 3) // 2, 0) is None and not at_least((N - 3) // 2, 0)
    assert compare(1 + (N + 3) // 2, 0) == 1 and at_least((N + 3) // 2, 0)
