"""Run by ``make dist`` with the python of a fresh venv holding only the built wheel (from /,
so no checkout is on the path): the installed package imports, says the version its
metadata says, and carries its license; importing it loads neither requests nor aiohttp."""

from __future__ import annotations

import importlib.metadata
import sys


def main() -> None:
    import qwen_spaces

    assert "site-packages" in qwen_spaces.__file__, qwen_spaces.__file__
    dist = importlib.metadata.distribution("qwen_spaces")
    assert dist.version == qwen_spaces.__version__, (dist.version, qwen_spaces.__version__)
    assert "LICENSE" in (dist.metadata.get_all("License-File") or []), "no License-File"
    licenses = [f for f in dist.files or () if f.name == "LICENSE"]
    assert licenses and "MIT License" in licenses[0].read_text(), "LICENSE not in the wheel"
    loaded = {"requests", "aiohttp"} & set(sys.modules)
    assert not loaded, f"import qwen_spaces loaded {loaded}"
    print(f"qwen_spaces {dist.version} from {qwen_spaces.__file__}: License-File LICENSE, ok")


if __name__ == "__main__":
    main()
