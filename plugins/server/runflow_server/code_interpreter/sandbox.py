"""The bubblewrap command line a session's kernel runs under (pure: builds a list of strings).

What the code sees, and nothing more:

- `/usr` and the merged-`/usr` links (`/bin`, `/lib`, `/lib64`, `/sbin`), the dynamic loader's
  files of `/etc`, and the Python installation of the sessions (its prefix, and the venv's), all
  read-only; `/proc` of its own PID namespace and a minimal `/dev`;
- `/mnt/data` (the session's directory, read-write; the working directory), `/run/kernel` (the
  kernel's IPC sockets, read-write) and a private `/tmp` tmpfs of a fixed size;
- no network (its own empty network namespace: not even loopback is up), no IPC, UTS or cgroup
  view of the host, a new terminal session, an empty environment but for a few variables,
  everything else of the file system (`/`) remounted read-only; it dies with the server.

Who it runs as: a server that is not root runs bubblewrap unprivileged, in a user namespace of
its own (so the process limit counts that namespace only). A server running as root runs it
without a user namespace (there, bubblewrap would keep every capability inside), and the
kernel is started through `setpriv` as a uid of its own with no capabilities, an empty bounding
set and `no_new_privs`; all mounts are `nosuid`.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = [
    "DATA_DIR",
    "FONT_SEED_DIR",
    "IPC_DIR",
    "SandboxSpec",
    "SandboxUnavailable",
    "bubblewrap_command",
    "find_bubblewrap",
    "python_roots",
]

DATA_DIR = "/mnt/data"
IPC_DIR = "/run/kernel"
FONT_SEED_DIR = "/run/matplotlib"
_SYSTEM_DIRS = ("/usr",)
_MERGED_LINKS = ("/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin")
_ETC_FILES = (  # the dynamic loader's, the time zone, the targets of /usr/bin links, fonts
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
    "/etc/fonts",
)


class SandboxUnavailable(RuntimeError):
    """Bubblewrap (or `setpriv`, for a server running as root) is not installed."""


@dataclass(frozen=True)
class SandboxSpec:
    """One session's sandbox.

    Attributes:
        bwrap: the bubblewrap executable.
        python: the interpreter to run inside (visible at the same path).
        python_roots: directories the interpreter needs (its prefix, the venv), read-only.
        data_dir: the host directory seen as `/mnt/data`.
        ipc_dir: the host directory seen as `/run/kernel`.
        tmp_bytes: size of the private `/tmp`.
        uid: when set (a server running as root), the uid the kernel runs as.
        env: the environment inside.
        read_only: more (host, inside) directories to show read-only.
    """

    bwrap: str
    python: str
    python_roots: tuple[str, ...]
    data_dir: Path
    ipc_dir: Path
    tmp_bytes: int
    uid: int | None
    env: tuple[tuple[str, str], ...]
    read_only: tuple[tuple[str, str], ...] = ()


def find_bubblewrap(*, as_root: bool) -> str:
    """The path of `bwrap`; `SandboxUnavailable` naming what to install when it is missing."""
    found = shutil.which("bwrap")
    if found is None:
        raise SandboxUnavailable(
            "code interpreter needs bubblewrap to sandbox its Python sessions: install it"
            " (Debian/Ubuntu: `apt-get install bubblewrap`, Fedora: `dnf install bubblewrap`),"
            " or allow unsandboxed sessions explicitly (`--code-unsafe-no-sandbox`: the code"
            " then runs with all the rights of the server's user)"
        )
    if as_root and shutil.which("setpriv") is None:
        raise SandboxUnavailable(
            "a server running as root starts its sandboxed sessions through `setpriv`:"
            " install util-linux (`apt-get install util-linux`)"
        )
    return found


def python_roots(python: str) -> tuple[str, ...]:
    """The directories the interpreter `python` needs: its venv and its base installation.

    For the server's own interpreter these are `sys.prefix` and `sys.base_prefix`; another
    interpreter is taken to live in `<prefix>/bin`, beside the installation it resolves to.
    """
    if Path(python).absolute() == Path(sys.executable).absolute():
        roots = {sys.prefix, sys.base_prefix}
    else:
        given = Path(python).absolute()
        roots = {str(given.parent.parent), str(given.resolve().parent.parent)}
    return tuple(sorted(root for root in roots if not _under_system(root)))


def _under_system(path: str) -> bool:
    return any(PurePosixPath(path).is_relative_to(system) for system in _SYSTEM_DIRS)


def bubblewrap_command(spec: SandboxSpec, argv: list[str]) -> list[str]:
    """The command that runs `argv` (the kernel) inside the sandbox of `spec`."""
    command = [spec.bwrap, "--die-with-parent", "--new-session"]
    command += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    command += ["--unshare-cgroup-try", "--hostname", "sandbox"]
    if spec.uid is None:
        command += ["--unshare-user", "--cap-drop", "ALL"]
    command += ["--clearenv"]
    for name, value in spec.env:
        command += ["--setenv", name, value]
    command += _system_mounts()
    command += ["--proc", "/proc", "--dev", "/dev"]
    command += ["--perms", "1777", "--size", str(spec.tmp_bytes), "--tmpfs", "/tmp"]
    made: set[str] = set()
    for root in spec.python_roots:
        command += [*_parents(root, made), "--ro-bind", root, root]
    for host, inside in spec.read_only:
        command += [*_parents(inside, made), "--ro-bind", host, inside]
    command += [*_parents(DATA_DIR, made), "--bind", str(spec.data_dir), DATA_DIR]
    command += [*_parents(IPC_DIR, made), "--bind", str(spec.ipc_dir), IPC_DIR]
    command += ["--remount-ro", "/", "--chdir", DATA_DIR]
    if spec.uid is not None:
        command += _drop_to(spec.uid)
    return command + argv


def _system_mounts() -> list[str]:
    mounts: list[str] = []
    for directory in _SYSTEM_DIRS:
        mounts += ["--ro-bind", directory, directory]
    for link in _MERGED_LINKS:
        if os.path.islink(link):
            mounts += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            mounts += ["--ro-bind", link, link]
    for path in _ETC_FILES:
        mounts += ["--ro-bind-try", path, path]
    return mounts


def _parents(path: str, made: set[str]) -> list[str]:
    """`--dir` for each missing ancestor of `path`, mode 0755 (bwrap would copy the host's)."""
    options: list[str] = []
    for parent in reversed(PurePosixPath(path).parents):
        name = str(parent)
        if name == "/" or name in made or _under_system(name):
            continue
        made.add(name)
        options += ["--perms", "0755", "--dir", name]
    return options


def _drop_to(uid: int) -> list[str]:
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    return [
        setpriv,
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
    ]
