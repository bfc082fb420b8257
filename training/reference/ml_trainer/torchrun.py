"""`python torchrun.py ARGS` = `python -m torch.distributed.run ARGS` (torchrun), started by the
container entry point on every node of a data-parallel job (see distributed.launch_command).

One repair, applied only where it is needed: torch 1.13 on Python 3.11 (Debian's python3-torch)
cannot parse its own default `--redirects 0` / `--tee 0` (3.11 no longer lists the zero flag
when iterating `Std`), so every launch fails before it starts. Newer torch is unaffected.
"""

from torch.distributed.elastic.multiprocessing import api
from torch.distributed.run import main

_from_str = api.Std.from_str


def _from_str_with_none(vm: str):  # noqa: ANN202 - Std or {local rank: Std}
    parsed = _from_str(vm)
    if isinstance(parsed, dict):
        return {rank: api.Std.NONE if std is None else std for rank, std in parsed.items()}
    return api.Std.NONE if parsed is None else parsed


if api.Std.from_str("0") is None:
    api.Std.from_str = staticmethod(_from_str_with_none)

if __name__ == "__main__":
    main()
