"""``cortado sign``: add an Ed25519 signature to an artifact, or make a key pair.

    cortado sign --generate-key builder.key        # writes builder.key and builder.key.pub
    cortado sign net.cortado --key builder.key     # adds signature.json to the artifact

Servers then load it with ``cortado serve --trusted-key builder.key.pub`` (or
``runtime.load(path, trusted_keys=["builder.key.pub"])``) and refuse anything else.
"""

from __future__ import annotations

from cortado.runtime.errors import CortadoError


def register(sub) -> None:
    s = sub.add_parser("sign", help="sign an artifact with an Ed25519 key (or make a key pair)")
    s.add_argument("artifact", nargs="?", help="the .cortado artifact to sign")
    s.add_argument("--key", help="the private key (PEM) to sign with")
    s.add_argument("--generate-key", metavar="KEY", help="write a new private key to KEY and its public key to KEY.pub")
    s.set_defaults(func=run)


def run(args) -> int:
    from cortado.runtime import artifact_signing, signing

    if args.generate_key:
        if args.artifact or args.key:
            raise CortadoError("--generate-key makes a key pair only; sign in a second command")
        private, public = signing.generate_key(args.generate_key)
        print(f"wrote private key {private} (keep it secret) and public key {public}")
        return 0
    if not args.artifact or not args.key:
        raise CortadoError("give an artifact and --key KEY (or --generate-key KEY to make one)")
    signer = artifact_signing.sign_artifact(args.artifact, args.key)
    print(f"signed {args.artifact} (public key {signer[:16]}…)")
    return 0
