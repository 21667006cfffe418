"""``python -m bench.measure -m MODULE ARGS...`` or ``-c CODE ARGS...``: run it, then print the
process's peak resident memory (``peak-rss-kb N``) on stderr.

VmHWM, not ``ru_maxrss``: on Linux a child's ``ru_maxrss`` starts from the RSS its parent had when it
forked, so a benchmark that holds data would be charged to the program it measures.
"""

import runpy
import sys


def peak_rss_kb() -> int:
    with open("/proc/self/status") as status:
        return int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))


def main() -> None:
    mode, target, *rest = sys.argv[1:]
    code: object = 0
    try:
        if mode == "-m":
            sys.argv = [target, *rest]
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        elif mode == "-c":
            sys.argv = ["-c", *rest]
            exec(compile(target, "<bench>", "exec"), {"__name__": "__main__"})
        else:
            raise SystemExit(f"usage: python -m bench.measure -m MODULE ARGS... | -c CODE ARGS... (got {mode})")
    except SystemExit as exc:
        code = exc.code
    finally:
        print("peak-rss-kb", peak_rss_kb(), file=sys.stderr, flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
