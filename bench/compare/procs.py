"""What the comparison reads from /proc: CPU time and memory of a process and its children, and whether
a process talks to anything beyond loopback.

CPU is utime + stime (/proc/<pid>/stat) summed over the process tree, plus the root's cutime + cstime
(children it has already reaped); memory is VmRSS and VmHWM (/proc/<pid>/status). VmHWM is a lifetime
high-water mark, so each cell resets it first (writing 5 to /proc/<pid>/clear_refs, Linux ≥ 4.0) to read
that cell's own peak.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass(frozen=True)
class Stat:
    ppid: int
    utime: int  # clock ticks
    stime: int
    cutime: int
    cstime: int


def parse_stat(text: str) -> Stat:
    # The command name (field 2) is in parentheses and may hold spaces or ')': split after the last ')'.
    fields = text.rsplit(")", 1)[1].split()
    return Stat(ppid=int(fields[1]), utime=int(fields[11]), stime=int(fields[12]), cutime=int(fields[13]),
                cstime=int(fields[14]))


def parse_status_kb(text: str, name: str) -> int:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise ValueError(f"no {name} in /proc status")


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None  # the process ended between listing and reading


def tree(root: int) -> list[int]:
    """`root` and every live descendant."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (text := _read(entry / "stat")) is not None:
            children.setdefault(parse_stat(text).ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def cpu_seconds(root: int) -> float:
    ticks = 0
    for pid in tree(root):
        if (text := _read(PROC / str(pid) / "stat")) is not None:
            stat = parse_stat(text)
            ticks += stat.utime + stat.stime + (stat.cutime + stat.cstime if pid == root else 0)
    return ticks / TICKS


def _status_mb(root: int, name: str) -> float:
    total = 0
    for pid in tree(root):
        if (text := _read(PROC / str(pid) / "status")) is not None:
            total += parse_status_kb(text, name)
    return total / 1024


def rss_mb(root: int) -> float:
    return _status_mb(root, "VmRSS")


def peak_mb(root: int) -> float:
    """Sum of VmHWM over the tree: an upper bound of the tree's simultaneous peak (exact for one process)."""
    return _status_mb(root, "VmHWM")


def reset_peak(root: int) -> bool:
    """Resets VmHWM to the current RSS for the whole tree; False where the kernel refuses (then peaks are
    lifetime peaks, and the report says so)."""
    ok = True
    for pid in tree(root):
        try:
            (PROC / str(pid) / "clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in (PROC / str(pid) / "fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw[::-1])  # /proc/net/tcp prints each 32-bit word little-endian
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    address = ipaddress.IPv6Address(words)
    return address.ipv4_mapped or address


def parse_net_tcp(text: str, inodes: set[str]) -> set[str]:
    """Remote peers (ip:port) of the sockets in `inodes` that are not loopback or unconnected."""
    peers = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[9] not in inodes:
            continue
        host, port = fields[2].split(":")
        address = _address(host)
        if not (address.is_loopback or address.is_unspecified):
            peers.add(f"{address}:{int(port, 16)}")
    return peers


def foreign_peers(root: int) -> set[str]:
    """Non-loopback TCP peers any process of the tree has a socket to (connected or connecting) right now."""
    peers: set[str] = set()
    for pid in tree(root):
        inodes = _socket_inodes(pid)
        if not inodes:
            continue
        for table in ("tcp", "tcp6"):
            if (text := _read(PROC / str(pid) / "net" / table)) is not None:
                peers |= parse_net_tcp(text, inodes)
    return peers
