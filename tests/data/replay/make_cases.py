#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Authoring aid for the replay cases of this directory: the event streams (*.jsonl) were
written with this script, one hand-designed event per ev() call, hits and near misses
commented. It rewrites the default_*.jsonl and upstream_*.jsonl files next to it.

The *.expected files are NOT generated: they hold alerts checked one by one against the rules'
conditions and outputs. After changing an event here, re-check the affected alerts by hand
(TZ=UTC lanner replay [-r ...] CASE.jsonl) before updating CASE.expected.
"""
import json, copy, os
OUT = os.path.dirname(os.path.abspath(__file__))
T0 = 1746622234000000000  # 2025-05-07T12:50:34Z

SYSTEMD = {"pid": 1, "ppid": 0, "sid": 1, "name": "systemd", "exe": "/sbin/init", "exepath": "/usr/lib/systemd/systemd"}
SSHD = {"pid": 4000, "ppid": 1, "sid": 4000, "name": "sshd", "exe": "sshd: alice [priv]", "exepath": "/usr/sbin/sshd"}
BASH = {"pid": 4100, "ppid": 4000, "sid": 4100, "name": "bash", "exe": "-bash", "exepath": "/usr/bin/bash",
        "args": [], "cwd": "/root/", "tty": 34816, "uid": 0, "gid": 0, "loginuid": 1000, "user": "root", "group": "root"}
HOST = {"id": "host"}
CTR = {"id": "3f2a9c81b7d4", "full_id": "3f2a9c81b7d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e",
       "name": "web", "type": "containerd", "image": "docker.io/library/nginx:1.25",
       "image_repository": "docker.io/library/nginx", "image_tag": "1.25", "privileged": False,
       "start_ts": T0 - 3600 * 10**9}
K8S = {"pod_name": "web-7d9f8c6b5-x2x9q", "ns_name": "shop", "pod_uid": "5b1f7a52-3c1e-4d7a-9f0e-2a8c6e4b9d11",
       "labels": {"app": "web", "tier": "front"}}
RUNC = {"pid": 7000, "ppid": 6990, "sid": 7000, "name": "runc:[2:INIT]", "exe": "runc", "exepath": "/usr/bin/runc"}
SHIM = {"pid": 6990, "ppid": 1, "sid": 6990, "name": "containerd-shim", "exe": "/usr/bin/containerd-shim-runc-v2", "exepath": "/usr/bin/containerd-shim-runc-v2"}

num = [0]

def proc(name, exepath, args, pid, parent_chain, **kw):
    p = {"pid": pid, "ppid": parent_chain[0]["pid"] if parent_chain else 0, "vpid": pid,
         "sid": parent_chain[0].get("sid", pid) if parent_chain else pid,
         "name": name, "exe": kw.pop("exe", name), "exepath": exepath, "args": args,
         "cwd": kw.pop("cwd", "/root/"), "tty": kw.pop("tty", 34816),
         "uid": kw.pop("uid", 0), "gid": kw.pop("gid", 0), "loginuid": kw.pop("loginuid", 1000),
         "user": kw.pop("user", "root"), "group": kw.pop("group", "root"),
         "start_ts": kw.pop("start_ts", T0),
         "exe_writable": kw.pop("exe_writable", False), "exe_upper_layer": kw.pop("exe_upper_layer", False),
         "exe_lower_layer": kw.pop("exe_lower_layer", False), "exe_from_memfd": kw.pop("exe_from_memfd", False)}
    p.update(kw)
    p["ancestors"] = [copy.deepcopy(a) for a in parent_chain]
    return p

def ev(type_, res, proc_, args=None, fd=None, container=HOST, k8s=None, dt=0):
    e = {"type": type_, "num": 0, "ts": 0, "cpu": 1, "tid": proc_["pid"], "res": res}
    if args is not None:
        e["args"] = args
    e["proc"] = proc_
    if fd is not None:
        e["fd"] = fd
    if container is not None:
        e["container"] = container
    if k8s is not None:
        e["k8s"] = k8s
    return e

def write(name, header, items):
    num[0] = 0
    with open(os.path.join(OUT, name + ".jsonl"), "w") as f:
        f.write("# SPDX-License-Identifier: Apache-2.0\n")
        for h in header:
            f.write("# " + h + "\n")
        for item in items:
            if isinstance(item, str):
                f.write("# " + item + "\n")
            else:
                num[0] += 1
                item["num"] = num[0]
                item["ts"] = T0 + 500000000 + num[0] * 1000
                f.write(json.dumps(item, separators=(",", ":")) + "\n")

def ffd(num_, path, typ="f"):
    return {"num": num_, "type": typ, "name": path}

# ---- lanner default rules ----

HDR = ["lanner's default rules (rules/default/): hits and near misses, one rule per file.",
       "Near misses are marked NEAR MISS and must raise nothing."]

# ---- shell in container with a terminal ----
ctr_chain = [RUNC, SHIM, SYSTEMD]
sh_tty = proc("bash", "/usr/bin/bash", [], 7101, ctr_chain, cwd="/", tty=34817, loginuid=-1)
sh_notty = proc("sh", "/bin/sh", ["-c", "nginx -s reload"], 7102, ctr_chain, cwd="/", tty=0, loginuid=-1)
host_sh = proc("bash", "/usr/bin/bash", [], 4200, [BASH, SSHD, SYSTEMD])
write("default_shell_in_container", HDR, [
    "HIT: kubectl exec -it web -- bash",
    ev("execve", 0, sh_tty, container=CTR, k8s=K8S),
    "NEAR MISS: a shell in the container without a terminal",
    ev("execve", 0, sh_notty, container=CTR, k8s=K8S),
    "NEAR MISS: an interactive shell on the host",
    ev("execve", 0, host_sh, container=HOST),
    "NEAR MISS: the exec failed (ENOENT)",
    ev("execve", -2, sh_tty, container=CTR, k8s=K8S),
    "NEAR MISS: container unknown (no container information at all)",
    ev("execve", 0, sh_tty, container=None),
])

# ---- write below binary directory ----
curl = proc("curl", "/usr/bin/curl", ["-o", "/usr/bin/ls", "http://203.0.113.5/ls"], 4300, [BASH, SSHD, SYSTEMD])
dpkg = proc("dpkg", "/usr/bin/dpkg", ["-i", "coreutils.deb"], 4301, [BASH, SSHD, SYSTEMD])
dpkg_child = proc("tar", "/usr/bin/tar", ["-x"], 4302, [dict(dpkg, ancestors=None), BASH, SSHD])
dpkg_child["ancestors"][0].pop("ancestors", None)
cat_ls = proc("cat", "/usr/bin/cat", ["/usr/bin/ls"], 4303, [BASH, SSHD, SYSTEMD])
write("default_write_below_binary_dir", HDR, [
    "HIT: curl -o /usr/bin/ls (open for writing, created and truncated)",
    ev("openat", 3, curl, {"fd": 3, "dirfd": -100, "name": "/usr/bin/ls", "flags": ["O_WRONLY", "O_CREAT", "O_TRUNC"], "mode": 0o644},
       ffd(3, "/usr/bin/ls")),
    "HIT: a file below /usr/local/sbin opened read-write, in a container of a pod",
    ev("openat", 4, dict(curl, pid=7200), {"fd": 4, "dirfd": -100, "name": "/usr/local/sbin/helper", "flags": ["O_RDWR"]},
       ffd(4, "/usr/local/sbin/helper"), container=CTR, k8s=K8S),
    "NEAR MISS: the package manager itself",
    ev("openat", 3, dpkg, {"fd": 3, "dirfd": -100, "name": "/usr/bin/ls.dpkg-new", "flags": ["O_WRONLY", "O_CREAT"]},
       ffd(3, "/usr/bin/ls.dpkg-new")),
    "NEAR MISS: a child of the package manager",
    ev("openat", 3, dpkg_child, {"fd": 3, "dirfd": -100, "name": "/usr/bin/ls", "flags": ["O_WRONLY", "O_CREAT"]},
       ffd(3, "/usr/bin/ls")),
    "NEAR MISS: read-only open of a binary",
    ev("openat", 3, cat_ls, {"fd": 3, "dirfd": -100, "name": "/usr/bin/ls", "flags": ["O_RDONLY"]}, ffd(3, "/usr/bin/ls")),
    "NEAR MISS: a write below a subdirectory that is not a binary directory",
    ev("openat", 3, curl, {"fd": 3, "dirfd": -100, "name": "/usr/bin/x/ls", "flags": ["O_WRONLY", "O_CREAT"]}, ffd(3, "/usr/bin/x/ls")),
    "NEAR MISS: the open failed (EACCES)",
    ev("openat", -13, curl, {"dirfd": -100, "name": "/usr/bin/ls", "flags": ["O_WRONLY", "O_TRUNC"]}),
])

# ---- C2 ----
c2curl = proc("curl", "/usr/bin/curl", ["-s", "http://198.51.100.7/beacon"], 7300, [sh_tty, RUNC, SHIM], cwd="/", tty=0, loginuid=-1)
def sock(num_, cip, cport, sip, sport, proto="tcp", typ="4"):
    return {"num": num_, "type": typ, "name": f"{cip}:{cport}->{sip}:{sport}", "l4proto": proto,
            "client": {"ip": cip, "port": cport}, "server": {"ip": sip, "port": sport},
            "is_server": False, "connected": True}
write("default_c2_connection", HDR, [
    "HIT: connect to a listed C2 address from a pod",
    ev("connect", 0, c2curl, {"fd": 5, "sockaddr": {"ip": "198.51.100.7", "port": 80}},
       sock(5, "10.244.1.17", 48122, "198.51.100.7", 80), container=CTR, k8s=K8S),
    "HIT: non-blocking connect (EINPROGRESS) into a listed C2 network, UDP",
    ev("connect", -115, dict(c2curl, name="python3", exepath="/usr/bin/python3", args=["beacon.py"]),
       {"fd": 6, "sockaddr": {"ip": "203.0.113.200", "port": 53}},
       sock(6, "10.244.1.17", 40000, "203.0.113.200", 53, proto="udp"), container=CTR, k8s=K8S),
    "NEAR MISS: connect to an unlisted address",
    ev("connect", 0, c2curl, {"fd": 5, "sockaddr": {"ip": "93.184.216.34", "port": 80}},
       sock(5, "10.244.1.17", 48124, "93.184.216.34", 80), container=CTR, k8s=K8S),
    "NEAR MISS: the connect to the C2 address was refused",
    ev("connect", -111, c2curl, {"fd": 5, "sockaddr": {"ip": "198.51.100.7", "port": 80}},
       sock(5, "10.244.1.17", 48126, "198.51.100.7", 80), container=CTR, k8s=K8S),
    "NEAR MISS: a unix socket connect",
    ev("connect", 0, c2curl, {"fd": 7, "sockaddr": {"path": "/run/nscd/socket"}},
       {"num": 7, "type": "u", "name": "/run/nscd/socket"}, container=CTR, k8s=K8S),
    "NEAR MISS: an address next to the listed network (198.51.101.7)",
    ev("connect", 0, c2curl, {"fd": 5, "sockaddr": {"ip": "198.51.101.7", "port": 80}},
       sock(5, "10.244.1.17", 48128, "198.51.101.7", 80), container=CTR, k8s=K8S),
])

# ---- sensitive file read ----
cat = proc("cat", "/usr/bin/cat", ["/etc/shadow"], 4400, [BASH, SSHD, SYSTEMD])
py = proc("python3", "/usr/bin/python3", ["steal.py"], 7400, [sh_tty, RUNC, SHIM], cwd="/app/", tty=0, loginuid=-1)
sshd_child = proc("sshd", "/usr/sbin/sshd", ["-D"], 4401, [SYSTEMD], tty=0, loginuid=-1)
write("default_sensitive_file_read", HDR, [
    "HIT: cat /etc/shadow on the host",
    ev("openat", 3, cat, {"fd": 3, "dirfd": -100, "name": "/etc/shadow", "flags": ["O_RDONLY", "O_CLOEXEC"]}, ffd(3, "/etc/shadow")),
    "HIT: a script in a pod reads a file below /etc/sudoers.d (relative name, resolved fd.name)",
    ev("openat", 4, py, {"fd": 4, "dirfd": -100, "name": "../etc/sudoers.d/admins", "flags": ["O_RDONLY"]},
       ffd(4, "/etc/sudoers.d/admins"), container=CTR, k8s=K8S),
    "NEAR MISS: sshd reads /etc/shadow",
    ev("openat", 3, sshd_child, {"fd": 3, "dirfd": -100, "name": "/etc/shadow", "flags": ["O_RDONLY"]}, ffd(3, "/etc/shadow")),
    "NEAR MISS: /etc/passwd is not sensitive",
    ev("openat", 3, dict(cat, args=["/etc/passwd"]), {"fd": 3, "dirfd": -100, "name": "/etc/passwd", "flags": ["O_RDONLY"]}, ffd(3, "/etc/passwd")),
    "NEAR MISS: write-only open (not a read)",
    ev("openat", 3, cat, {"fd": 3, "dirfd": -100, "name": "/etc/shadow", "flags": ["O_WRONLY"]}, ffd(3, "/etc/shadow")),
    "NEAR MISS: the open failed (EACCES)",
    ev("openat", -13, dict(cat, uid=1000, gid=1000, user="alice", group="alice"), {"dirfd": -100, "name": "/etc/shadow", "flags": ["O_RDONLY"]}),
])

# ---- kernel module ----
insmod = proc("insmod", "/usr/sbin/insmod", ["rootkit.ko"], 4500, [BASH, SSHD, SYSTEMD])
write("default_kernel_module", HDR, [
    "HIT: insmod rootkit.ko (finit_module)",
    ev("finit_module", 0, insmod, {"fd": 3, "uargs": "", "flags": 0}),
    "HIT: init_module from a container",
    ev("init_module", 0, dict(insmod, pid=7500), {"size": 16384, "uargs": "debug=1"}, container=CTR, k8s=K8S),
    "NEAR MISS: the load was refused (EPERM)",
    ev("finit_module", -1, insmod, {"fd": 3, "uargs": ""}),
    "NEAR MISS: delete_module is not a load",
    ev("delete_module", 0, dict(insmod, name="rmmod", exepath="/usr/sbin/rmmod"), {"name": "rootkit"}),
])

# ---- ptrace ----
strace = proc("strace", "/usr/bin/strace", ["-p", "4700"], 4600, [BASH, SSHD, SYSTEMD])
gdb = proc("gdb", "/usr/bin/gdb", ["-p", "7001"], 7600, [sh_tty, RUNC, SHIM], cwd="/", tty=34817, loginuid=-1)
anti = proc("malware", "/tmp/malware", [], 4601, [BASH, SSHD, SYSTEMD], cwd="/tmp/")
GDB = {"pid": 4610, "ppid": 4100, "sid": 4100, "name": "gdb", "exe": "gdb", "exepath": "/usr/bin/gdb"}
dbg_child = proc("gdb", "/usr/bin/gdb", ["./prog"], 4611, [GDB, BASH, SSHD, SYSTEMD])
write("default_ptrace_attach", HDR, [
    "HIT: strace -p 4700 (PTRACE_SEIZE)",
    ev("ptrace", 0, strace, {"request": "PTRACE_SEIZE", "pid": 4700, "addr": 0, "data": 0}),
    "HIT: gdb attaches inside a pod (PTRACE_ATTACH)",
    ev("ptrace", 0, gdb, {"request": "PTRACE_ATTACH", "pid": 7001}, container=CTR, k8s=K8S),
    "HIT: memory written (PTRACE_POKEDATA)",
    ev("ptrace", 0, gdb, {"request": 5, "pid": 7001}, container=CTR, k8s=K8S),
    "NEAR MISS: PTRACE_TRACEME is not an attach (a debugger's child asking to be traced)",
    ev("ptrace", 0, dbg_child, {"request": "PTRACE_TRACEME", "pid": 0}),
    "NEAR MISS: reading memory (PTRACE_PEEKDATA)",
    ev("ptrace", 0, strace, {"request": "PTRACE_PEEKDATA", "pid": 4700}),
    "NEAR MISS: the attach was refused (EPERM)",
    ev("ptrace", -1, strace, {"request": "PTRACE_ATTACH", "pid": 1}),
])

write("default_ptrace_traceme", HDR, [
    "HIT: a program makes itself untraceable (PTRACE_TRACEME outside a debugger)",
    ev("ptrace", 0, anti, {"request": "PTRACE_TRACEME", "pid": 0}),
    "NEAR MISS: a debugger's child before its exec",
    ev("ptrace", 0, dbg_child, {"request": "PTRACE_TRACEME", "pid": 0}),
    "NEAR MISS: the request failed (EPERM: already traced)",
    ev("ptrace", -1, anti, {"request": "PTRACE_TRACEME", "pid": 0}),
])

# ---- /dev/shm ----
shm_bin = proc("payload", "/dev/shm/payload", [], 4700, [BASH, SSHD, SYSTEMD], exe="/dev/shm/payload")
shm_script = proc("x.sh", "/usr/bin/bash", ["/dev/shm/x.sh"], 4701, [BASH, SSHD, SYSTEMD], exe="/bin/bash")
cat_shm = proc("cat", "/usr/bin/cat", ["/dev/shm/data"], 4702, [BASH, SSHD, SYSTEMD])
write("default_exec_dev_shm", HDR, [
    "HIT: an ELF executed from /dev/shm",
    ev("execve", 0, shm_bin, {"path": "/dev/shm/payload"}),
    "HIT: a script executed from /dev/shm (the interpreter runs; the exec filename is the script)",
    ev("execve", 0, shm_script, {"path": "/dev/shm/x.sh"}),
    "NEAR MISS: a program reading a file in /dev/shm",
    ev("execve", 0, cat_shm, {"path": "/usr/bin/cat"}),
    "NEAR MISS: the exec failed (EACCES: noexec mount)",
    ev("execve", -13, shm_bin, {"path": "/dev/shm/payload"}),
    "NEAR MISS: a directory named like it (/dev/shmem)",
    ev("execve", 0, dict(shm_bin, exe="/dev/shmem/payload", exepath="/dev/shmem/payload"), {"path": "/dev/shmem/payload"}),
])

# ---- memfd ----
memfd_exec = proc("kworker", "/memfd:payload (deleted)", [], 4800, [BASH, SSHD, SYSTEMD], exe="kworker", exe_from_memfd=True, exe_upper_layer=False, exe_lower_layer=False, exe_writable=True)
plain = proc("ls", "/usr/bin/ls", ["-l"], 4801, [BASH, SSHD, SYSTEMD], exe_from_memfd=False, exe_upper_layer=False, exe_lower_layer=False, exe_writable=False)
write("default_fileless_memfd", HDR, [
    "HIT: an ELF executed from a memfd (fexecve)",
    ev("execveat", 0, memfd_exec, {"dirfd": 3, "path": "", "flags": ["AT_EMPTY_PATH"]}),
    "NEAR MISS: a regular binary",
    ev("execve", 0, plain, {"path": "/usr/bin/ls"}),
    "NEAR MISS: memfd_create alone executes nothing",
    ev("memfd_create", 3, dict(plain, name="loader", exepath="/tmp/loader"), {"name": "payload", "flags": ["MFD_CLOEXEC"]}),
    "NEAR MISS: exe flags unknown (no exe_from_memfd in the record)",
    ev("execve", 0, proc("kworker", "/memfd:payload (deleted)", [], 4802, [BASH, SSHD, SYSTEMD]), {"path": "/proc/self/fd/3"}),
])

# ---- log truncation ----
bash_redirect = dict(BASH, pid=4900, ppid=4100, ancestors=[BASH, SSHD, SYSTEMD])
logrotate = proc("logrotate", "/usr/sbin/logrotate", ["/etc/logrotate.conf"], 4901, [SYSTEMD], tty=0, loginuid=-1)
truncate = proc("truncate", "/usr/bin/truncate", ["-s", "0", "/var/log/auth.log"], 4902, [BASH, SSHD, SYSTEMD])
write("default_log_truncation", HDR, [
    "HIT: > /var/log/syslog from a shell",
    ev("openat", 3, bash_redirect, {"fd": 3, "dirfd": -100, "name": "/var/log/syslog", "flags": ["O_WRONLY", "O_CREAT", "O_TRUNC"], "mode": 0o644},
       ffd(3, "/var/log/syslog")),
    "HIT: truncate -s 0 /var/log/auth.log",
    ev("truncate", 0, truncate, {"path": "/var/log/auth.log"}),
    "HIT: a file named syslog outside /var/log, truncated",
    ev("openat", 3, bash_redirect, {"fd": 3, "dirfd": -100, "name": "/tmp/t/syslog", "flags": ["O_WRONLY", "O_TRUNC"]},
       ffd(3, "/tmp/t/syslog")),
    "NEAR MISS: logrotate truncating a log",
    ev("openat", 3, logrotate, {"fd": 3, "dirfd": -100, "name": "/var/log/syslog", "flags": ["O_WRONLY", "O_TRUNC"]}, ffd(3, "/var/log/syslog")),
    "NEAR MISS: appending to a log",
    ev("openat", 3, bash_redirect, {"fd": 3, "dirfd": -100, "name": "/var/log/syslog", "flags": ["O_WRONLY", "O_APPEND"]}, ffd(3, "/var/log/syslog")),
    "NEAR MISS: truncating a file in /var/logs (not /var/log)",
    ev("openat", 3, bash_redirect, {"fd": 3, "dirfd": -100, "name": "/var/logs/app.txt", "flags": ["O_WRONLY", "O_TRUNC"]}, ffd(3, "/var/logs/app.txt")),
    "NEAR MISS: removing a directory in /var/log: AT_REMOVEDIR has O_TRUNC's bit value",
    ev("unlinkat", 0, bash_redirect, {"dirfd": -100, "name": "/var/log/old", "flags": ["AT_REMOVEDIR"]}),
])

# ---- links ----
ln = proc("ln", "/usr/bin/ln", ["-s", "/etc", "/tmp/d/link"], 5000, [BASH, SSHD, SYSTEMD], cwd="/tmp/d/")
lnh = proc("ln", "/usr/bin/ln", ["/etc/shadow", "l"], 5001, [BASH, SSHD, SYSTEMD], cwd="/tmp/d/")
write("default_sensitive_links", HDR, [
    "HIT: ln -s /etc /tmp/d/link",
    ev("symlinkat", 0, ln, {"target": "/etc", "dirfd": -100, "linkpath": "/tmp/d/link"}),
    "HIT: ln -s /etc/sudoers.d/admins x (below a sensitive directory; relative linkpath)",
    ev("symlinkat", 0, dict(ln, args=["-s", "/etc/sudoers.d/admins", "x"]), {"target": "/etc/sudoers.d/admins", "dirfd": -100, "linkpath": "x"}),
    "HIT: ln /etc/shadow l (hard link)",
    ev("linkat", 0, lnh, {"dirfd": -100, "oldpath": "/etc/shadow", "newdirfd": -100, "newpath": "l", "flags": 0}),
    "NEAR MISS: symlink to /etc/hosts",
    ev("symlink", 0, dict(ln, args=["-s", "/etc/hosts", "h"]), {"target": "/etc/hosts", "linkpath": "h"}),
    "NEAR MISS: /etc/sudoers.dx is not below /etc/sudoers.d",
    ev("symlink", 0, dict(ln, args=["-s", "/etc/sudoers.dx", "h"]), {"target": "/etc/sudoers.dx", "linkpath": "h"}),
    "NEAR MISS: the hard link was refused (EPERM: protected_hardlinks)",
    ev("linkat", -1, lnh, {"dirfd": -100, "oldpath": "/etc/shadow", "newdirfd": -100, "newpath": "l", "flags": 0}),
    "NEAR MISS: hard link to a harmless file",
    ev("link", 0, dict(lnh, args=["/etc/hostname", "l"]), {"oldpath": "/etc/hostname", "newpath": "l"}),
])

# ---- upstream stable rules ----

ARGS = "args: -r @SHARED@/falco-rules/falco_rules.yaml"
def H(what):
    return [ARGS, "Upstream stable rules (falco_rules.yaml): " + what,
            "Near misses are marked NEAR MISS and must raise nothing."]

ctr_chain = [RUNC, SHIM, SYSTEMD]

# Read sensitive file untrusted / Directory traversal monitored file read
cat = proc("cat", "/usr/bin/cat", ["/etc/shadow"], 4400, [BASH, SSHD, SYSTEMD])
tcat = proc("cat", "/usr/bin/cat", ["/etc/../etc/../etc/shadow"], 4402, [dict(proc("timeout", "/usr/bin/timeout", ["5", "cat", "/etc/../etc/../etc/shadow"], 4401, []), ancestors=None), BASH, SSHD])
tcat["ancestors"][0].pop("ancestors", None)
sshd = proc("sshd", "/usr/sbin/sshd", ["-D"], 4405, [SYSTEMD], tty=0, loginuid=-1)
passwd_cp = proc("cp", "/usr/bin/cp", ["/etc/shadow", "/etc/shadow-"], 4406, [dict(proc("passwd", "/usr/bin/passwd", [], 4407, []), ancestors=None), BASH])
passwd_cp["ancestors"][0].pop("ancestors", None)
write("upstream_read_sensitive_file", H("Read sensitive file untrusted, Directory traversal monitored file read"), [
    "HIT Read sensitive file untrusted: cat /etc/shadow",
    ev("openat", 3, cat, {"fd": 3, "dirfd": -100, "name": "/etc/shadow", "flags": ["O_RDONLY", "O_CLOEXEC"]}, ffd(3, "/etc/shadow")),
    "HIT Directory traversal monitored file read: timeout 5 cat /etc/../etc/../etc/shadow (first matching rule only)",
    ev("openat", 3, tcat, {"fd": 3, "dirfd": -100, "name": "/etc/../etc/../etc/shadow", "flags": ["O_RDONLY"]},
       {"num": 3, "type": "f", "name": "/etc/shadow", "nameraw": "/etc/../etc/../etc/shadow"}),
    "HIT Directory traversal monitored file read: a failed open counts too",
    ev("openat", -2, tcat, {"dirfd": -100, "name": "/etc/../etc/../etc/nope", "flags": ["O_RDONLY"]},
       {"num": -1, "type": "f", "name": "/etc/nope", "nameraw": "/etc/../etc/../etc/nope"}),
    "NEAR MISS: sshd reads /etc/shadow",
    ev("openat", 3, sshd, {"fd": 3, "dirfd": -100, "name": "/etc/shadow", "flags": ["O_RDONLY"]}, ffd(3, "/etc/shadow")),
    "NEAR MISS: cp run by passwd (cmp_cp_by_passwd)",
    ev("openat", 3, passwd_cp, {"fd": 3, "dirfd": -100, "name": "/etc/shadow", "flags": ["O_RDONLY"]}, ffd(3, "/etc/shadow")),
    "NEAR MISS: write-only open",
    ev("openat", 3, cat, {"fd": 3, "dirfd": -100, "name": "/etc/shadow", "flags": ["O_WRONLY"]}, ffd(3, "/etc/shadow")),
    "NEAR MISS: /etc/hostname is not sensitive",
    ev("openat", 3, dict(cat, args=["/etc/hostname"]), {"fd": 3, "dirfd": -100, "name": "/etc/hostname", "flags": ["O_RDONLY"]}, ffd(3, "/etc/hostname")),
])

# Terminal shell in container
sh_tty = proc("bash", "/usr/bin/bash", [], 7101, ctr_chain, cwd="/", tty=34817, loginuid=-1, exe_lower_layer=True)
sh_sub = proc("sh", "/bin/sh", ["-c", "id"], 7103, [dict(sh_tty, ancestors=None)] + ctr_chain, cwd="/", tty=34817, loginuid=-1)
sh_sub["ancestors"][0].pop("ancestors", None)
write("upstream_terminal_shell_in_container", H("Terminal shell in container"), [
    "HIT: kubectl exec -it ... bash (parent runc)",
    ev("execve", 0, dict(sh_tty, ancestors=[dict(RUNC, name="runc:[1:CHILD]"), SHIM, SYSTEMD]), {"path": "/usr/bin/bash"}, container=CTR, k8s=K8S),
    "NEAR MISS: a shell started by that shell is not the container entrypoint",
    ev("execve", 0, sh_sub, {"path": "/bin/sh"}, container=CTR, k8s=K8S),
    "NEAR MISS: no terminal",
    ev("execve", 0, dict(sh_tty, tty=0, ancestors=[dict(RUNC, name="runc:[1:CHILD]"), SHIM]), {"path": "/usr/bin/bash"}, container=CTR, k8s=K8S),
    "NEAR MISS: on the host",
    ev("execve", 0, proc("bash", "/usr/bin/bash", [], 4210, [SSHD, SYSTEMD]), {"path": "/usr/bin/bash"}),
])

# Symlink / hardlink
ln = proc("ln", "/usr/bin/ln", ["-s", "/etc", "/tmp/d/link"], 5000, [BASH, SSHD, SYSTEMD], cwd="/tmp/d/")
lnh = proc("ln", "/usr/bin/ln", ["/etc/shadow", "l"], 5001, [BASH, SSHD, SYSTEMD], cwd="/tmp/d/")
write("upstream_sensitive_links", H("Create Symlink Over Sensitive Files, Create Hardlink Over Sensitive Files"), [
    "HIT Create Symlink Over Sensitive Files: ln -s /etc /tmp/d/link",
    ev("symlinkat", 0, ln, {"target": "/etc", "dirfd": -100, "linkpath": "/tmp/d/link"}),
    "HIT Create Hardlink Over Sensitive Files: ln /etc/shadow l",
    ev("linkat", 0, lnh, {"dirfd": -100, "oldpath": "/etc/shadow", "newdirfd": -100, "newpath": "l", "flags": 0}),
    "NEAR MISS: symlink to /etc/hosts",
    ev("symlink", 0, dict(ln, args=["-s", "/etc/hosts", "h"]), {"target": "/etc/hosts", "linkpath": "h"}),
    "NEAR MISS: hard link of /etc/passwd",
    ev("link", 0, dict(lnh, args=["/etc/passwd", "p"]), {"oldpath": "/etc/passwd", "newpath": "p"}),
])

# Clear Log Activities
bash_redirect = dict(BASH, pid=4900, ppid=4100, ancestors=[BASH, SSHD, SYSTEMD])
write("upstream_clear_log_activities", H("Clear Log Activities"), [
    "HIT: truncating a file named syslog (: > /tmp/t/syslog)",
    ev("openat", 3, bash_redirect, {"fd": 3, "dirfd": -100, "name": "/tmp/t/syslog", "flags": ["O_WRONLY", "O_CREAT", "O_TRUNC"], "mode": 0o644},
       ffd(3, "/tmp/t/syslog")),
    "HIT: truncating a file in /var/log",
    ev("openat", 3, bash_redirect, {"fd": 3, "dirfd": -100, "name": "/var/log/app.log", "flags": ["O_RDWR", "O_TRUNC"]}, ffd(3, "/var/log/app.log")),
    "NEAR MISS: appending to syslog",
    ev("openat", 3, bash_redirect, {"fd": 3, "dirfd": -100, "name": "/var/log/syslog", "flags": ["O_WRONLY", "O_APPEND"]}, ffd(3, "/var/log/syslog")),
    "NEAR MISS: truncating a file in a log subdirectory",
    ev("openat", 3, bash_redirect, {"fd": 3, "dirfd": -100, "name": "/var/log/nginx/access.log.1", "flags": ["O_WRONLY", "O_TRUNC"]}, ffd(3, "/var/log/nginx/access.log.1")),
    "NEAR MISS: a trusted logging image",
    ev("openat", 3, bash_redirect, {"fd": 3, "dirfd": -100, "name": "/var/log/syslog", "flags": ["O_WRONLY", "O_TRUNC"]}, ffd(3, "/var/log/syslog"),
       container=dict(CTR, image_repository="docker.io/splunk/fluentd-hec"), k8s=K8S),
])

# PTRACE
strace = proc("strace", "/usr/bin/strace", ["-p", "4700"], 4600, [BASH, SSHD, SYSTEMD])
anti = proc("malware", "/tmp/malware", [], 4601, [BASH, SSHD, SYSTEMD], cwd="/tmp/")
GDB = {"pid": 4610, "ppid": 4100, "sid": 4100, "name": "gdb", "exe": "gdb", "exepath": "/usr/bin/gdb"}
dbg_child = proc("gdb", "/usr/bin/gdb", ["./prog"], 4611, [GDB, BASH, SSHD, SYSTEMD])
write("upstream_ptrace", H("PTRACE attached to process, PTRACE anti-debug attempt"), [
    "HIT PTRACE attached to process: strace -p (PTRACE_SEIZE)",
    ev("ptrace", 0, strace, {"request": "PTRACE_SEIZE", "pid": 4700}),
    "HIT PTRACE anti-debug attempt: ptrace(PTRACE_TRACEME)",
    ev("ptrace", 0, anti, {"request": "PTRACE_TRACEME", "pid": 0}),
    "NEAR MISS: PTRACE_CONT",
    ev("ptrace", 0, strace, {"request": "PTRACE_CONT", "pid": 4700}),
    "NEAR MISS: a process without a name (proc_name_exists)",
    ev("ptrace", 0, dict(strace, name="<NA>"), {"request": "PTRACE_ATTACH", "pid": 4700}),
])

# Search Private Keys or Passwords, Remove Bulk Data from Disk
find = proc("find", "/usr/bin/find", ["/home", "-iname", "id_rsa"], 5100, [BASH, SSHD, SYSTEMD])
shred = proc("shred", "/usr/bin/shred", ["-u", "/tmp/secret"], 5101, [BASH, SSHD, SYSTEMD])
write("upstream_spawned_process", H("Search Private Keys or Passwords, Remove Bulk Data from Disk, Run shell untrusted"), [
    "HIT Search Private Keys or Passwords: find /home -iname id_rsa",
    ev("execve", 0, find, {"path": "/usr/bin/find"}),
    "HIT Remove Bulk Data from Disk: shred -u FILE",
    ev("execve", 0, shred, {"path": "/usr/bin/shred"}),
    "HIT Run shell untrusted: a shell spawned by httpd",
    ev("execve", 0, proc("sh", "/bin/sh", ["-c", "id"], 5102,
       [{"pid": 5000, "ppid": 1, "name": "httpd", "exe": "/usr/sbin/httpd", "exepath": "/usr/sbin/httpd", "args": ["-DFOREGROUND"]}, SYSTEMD],
       tty=0, loginuid=-1, user="www-data", uid=33, gid=33, group="www-data"), {"path": "/bin/sh"}),
    "NEAR MISS: find looking for something else",
    ev("execve", 0, dict(find, args=["/home", "-name", "*.txt"]), {"path": "/usr/bin/find"}),
    "NEAR MISS: a shell spawned by a shell",
    ev("execve", 0, proc("sh", "/bin/sh", ["-c", "id"], 5103, [BASH, SSHD, SYSTEMD]), {"path": "/bin/sh"}),
    "NEAR MISS: rm is not a bulk data removal tool",
    ev("execve", 0, dict(shred, name="rm", exepath="/usr/bin/rm"), {"path": "/usr/bin/rm"}),
])

# Fileless execution via memfd_create, Execution from /dev/shm
memfd_exec = proc("kworker", "/memfd:payload (deleted)", [], 4800, [BASH, SSHD, SYSTEMD], exe="kworker", exe_from_memfd=True, exe_upper_layer=False, exe_lower_layer=False, exe_writable=True)
shm = proc("x.sh", "/usr/bin/bash", ["/dev/shm/x.sh"], 4701, [BASH, SSHD, SYSTEMD], exe="/dev/shm/x.sh")
write("upstream_memfd_dev_shm", H("Fileless execution via memfd_create, Execution from /dev/shm"), [
    "HIT Fileless execution via memfd_create",
    ev("execveat", 0, memfd_exec, {"dirfd": 3, "path": "", "flags": ["AT_EMPTY_PATH"]}),
    "HIT Execution from /dev/shm: a script run from /dev/shm",
    ev("execve", 0, shm, {"path": "/dev/shm/x.sh"}),
    "NEAR MISS: a regular binary",
    ev("execve", 0, proc("ls", "/usr/bin/ls", [], 4803, [BASH, SSHD, SYSTEMD], exe_from_memfd=False), {"path": "/usr/bin/ls"}),
])

# Packet socket created in container
tcpdump = proc("tcpdump", "/usr/bin/tcpdump", ["-i", "eth0"], 7700, [sh_tty] + ctr_chain, cwd="/", tty=34817, loginuid=-1, exe_upper_layer=True)
write("upstream_packet_socket", H("Packet socket created in container"), [
    "HIT: AF_PACKET socket in a pod",
    ev("socket", 3, tcpdump, {"domain": "AF_PACKET", "type": "SOCK_RAW", "proto": 768}, {"num": 3, "type": "o"}, container=CTR, k8s=K8S),
    "NEAR MISS: AF_PACKET on the host",
    ev("socket", 3, dict(tcpdump, ancestors=[BASH, SSHD]), {"domain": "AF_PACKET", "type": "SOCK_RAW", "proto": 768}, {"num": 3, "type": "o"}),
    "NEAR MISS: an IPv4 socket in a pod",
    ev("socket", 4, tcpdump, {"domain": "AF_INET", "type": "SOCK_STREAM", "proto": 6}, {"num": 4, "type": "4", "l4proto": "tcp"}, container=CTR, k8s=K8S),
])
