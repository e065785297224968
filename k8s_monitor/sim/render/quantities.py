"""Resource quantities as the kubelet reports them: memory in Ki, allocatable after reserves."""

from __future__ import annotations

_UNITS = {"Ki": 1, "Mi": 1024, "Gi": 1024**2, "Ti": 1024**3}


def to_ki(quantity: str) -> str:
    for suffix, factor in _UNITS.items():
        if quantity.endswith(suffix):
            return f"{int(float(quantity.removesuffix(suffix)) * factor)}Ki"
    return f"{int(float(quantity) / 1024)}Ki"


def allocatable_memory(quantity: str) -> str:
    total = int(to_ki(quantity).removesuffix("Ki"))
    return f"{int(total * 0.92)}Ki"


def allocatable_cpu(cpu: str) -> str:
    return f"{int(float(cpu) * 1000) - 80}m"
