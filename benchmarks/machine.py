"""What every benchmark records about the machine it ran on, in one place.

Benchmarks here report ratios against a baseline run in the same process, but absolute numbers
still depend on the host: hosts sold under the same name differ (this project's 2-core VMs have been
an AMD EPYC with AVX2 only and an Intel Xeon with AMX), and the text model's transformer runs in bf16
only where the CPU has it natively. So each result file says which CPU, how many cores, and how busy
the box was (it is shared with training jobs).
"""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows ("x86_64" at worst)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        name = ""
    return name or platform.processor() or platform.machine()


def machine(**extra) -> dict:
    """The machine record of a result file: CPU model, cores visible to this process, native bf16,
    platform, Python and the 1/5/15-minute load averages now; `extra` keys are added as given."""
    from models.text.contextual import native_bf16  # the check the text model's inference makes

    return {"cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)), "native_bf16": native_bf16(),
            "platform": platform.platform(), "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()], **extra}
