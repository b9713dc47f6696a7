"""What a bundle is asked for: caps, timeouts, redaction options (no host access here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """Caps and timeouts (defaults documented in README, "Support bundle")."""

    item_timeout: float = 15.0
    host_timeout: float = 180.0
    max_item_bytes: int = 4 * 1024 * 1024
    max_host_bytes: int = 32 * 1024 * 1024
    log_lines: int = 2000
    max_containers: int = 64
    since: str = "-24h"


@dataclass(frozen=True)
class BundleOptions:
    output: Path
    limits: Limits = field(default_factory=Limits)
    redact_patterns: tuple[str, ...] = ()
    obfuscate: bool = False
    # For tests that prove the self-scan: rules switched off, values it must also look for.
    disabled_rules: frozenset[str] = frozenset()
    canaries: tuple[str, ...] = ()
