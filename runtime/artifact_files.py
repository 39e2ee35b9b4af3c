"""The names of the files in a ``.cortado`` artifact (a folder, or one zip of it)."""

MANIFEST = "manifest.json"            # format, I/O signature, launch plan, content hashes
KERNELS = "kernels.py"                # the generated kernel module
WEIGHTS = "weights.safetensors"       # constants (never pickle)
SIGNATURE = "signature.json"          # an Ed25519 signature over the manifest (optional)
