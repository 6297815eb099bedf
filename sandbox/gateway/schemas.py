"""The engine's request structs (API 1.41) as canonical_json schemas.

Field names are Go's JSON names. Fields the gateway refuses unless empty are RAW: the policy
looks at them and never forwards them as sent.
"""

from __future__ import annotations

from .canonical_json import BOOL, INT, RAW, STR, STRSLICE, ListOf, MapOf, Struct

EMPTY = Struct({})

HEALTHCHECK = Struct(
    {"Test": ListOf(STR), "Interval": INT, "Timeout": INT, "StartPeriod": INT, "Retries": INT}
)

CONTAINER_CONFIG_FIELDS = {
    "Hostname": STR,
    "Domainname": STR,
    "User": STR,
    "AttachStdin": BOOL,
    "AttachStdout": BOOL,
    "AttachStderr": BOOL,
    "ExposedPorts": MapOf(EMPTY),
    "Tty": BOOL,
    "OpenStdin": BOOL,
    "StdinOnce": BOOL,
    "Env": ListOf(STR),
    "Cmd": STRSLICE,
    "Healthcheck": HEALTHCHECK,
    "ArgsEscaped": BOOL,
    "Image": STR,
    "Volumes": MapOf(EMPTY),
    "WorkingDir": STR,
    "Entrypoint": STRSLICE,
    "NetworkDisabled": BOOL,
    "MacAddress": STR,
    "OnBuild": ListOf(STR),
    "Labels": MapOf(STR),
    "StopSignal": STR,
    "StopTimeout": INT,
    "Shell": STRSLICE,
}
CONTAINER_CONFIG = Struct(CONTAINER_CONFIG_FIELDS)

ULIMIT = Struct({"Name": STR, "Hard": INT, "Soft": INT})
RESTART_POLICY = Struct({"Name": STR, "MaximumRetryCount": INT})

RESOURCES_FIELDS = {
    "CpuShares": INT,
    "Memory": INT,
    "NanoCpus": INT,
    "CgroupParent": STR,
    "BlkioWeight": INT,
    "BlkioWeightDevice": RAW,
    "BlkioDeviceReadBps": RAW,
    "BlkioDeviceWriteBps": RAW,
    "BlkioDeviceReadIOps": RAW,
    "BlkioDeviceWriteIOps": RAW,
    "CpuPeriod": INT,
    "CpuQuota": INT,
    "CpuRealtimePeriod": INT,
    "CpuRealtimeRuntime": INT,
    "CpusetCpus": STR,
    "CpusetMems": STR,
    "Devices": RAW,
    "DeviceCgroupRules": RAW,
    "DeviceRequests": RAW,
    "KernelMemory": INT,
    "KernelMemoryTCP": INT,
    "MemoryReservation": INT,
    "MemorySwap": INT,
    "MemorySwappiness": INT,
    "OomKillDisable": BOOL,
    "PidsLimit": INT,
    "Ulimits": ListOf(ULIMIT),
    "CpuCount": INT,
    "CpuPercent": INT,
    "IOMaximumIOps": INT,
    "IOMaximumBandwidth": INT,
}

MOUNT = Struct(
    {
        "Type": STR,
        "Source": STR,
        "Target": STR,
        "ReadOnly": BOOL,
        "Consistency": STR,
        "BindOptions": RAW,
        "VolumeOptions": Struct({"NoCopy": BOOL, "Labels": MapOf(STR), "DriverConfig": RAW}),
        "TmpfsOptions": Struct({"SizeBytes": INT, "Mode": INT}),
    }
)

HOST_CONFIG_FIELDS = {
    "Binds": ListOf(STR),
    "ContainerIDFile": STR,
    "LogConfig": Struct({"Type": STR, "Config": MapOf(STR)}),
    "NetworkMode": STR,
    "PortBindings": RAW,
    "RestartPolicy": RESTART_POLICY,
    "AutoRemove": BOOL,
    "VolumeDriver": STR,
    "VolumesFrom": ListOf(STR),
    "CapAdd": STRSLICE,
    "CapDrop": STRSLICE,
    "CgroupnsMode": STR,
    "Dns": ListOf(STR),
    "DnsOptions": ListOf(STR),
    "DnsSearch": ListOf(STR),
    "ExtraHosts": ListOf(STR),
    "GroupAdd": ListOf(STR),
    "IpcMode": STR,
    "Cgroup": STR,
    "Links": RAW,
    "OomScoreAdj": INT,
    "PidMode": STR,
    "Privileged": BOOL,
    "PublishAllPorts": BOOL,
    "ReadonlyRootfs": BOOL,
    "SecurityOpt": ListOf(STR),
    "StorageOpt": RAW,
    "Tmpfs": MapOf(STR),
    "UTSMode": STR,
    "UsernsMode": STR,
    "ShmSize": INT,
    "Sysctls": RAW,
    "Runtime": STR,
    "ConsoleSize": ListOf(INT),
    "Isolation": STR,
    **RESOURCES_FIELDS,
    "Mounts": ListOf(MOUNT),
    "MaskedPaths": RAW,
    "ReadonlyPaths": RAW,
    "Init": BOOL,
}
HOST_CONFIG = Struct(HOST_CONFIG_FIELDS)

ENDPOINT_SETTINGS = Struct(
    {
        "IPAMConfig": Struct({"IPv4Address": STR, "IPv6Address": STR, "LinkLocalIPs": ListOf(STR)}),
        "Links": RAW,
        "Aliases": ListOf(STR),
        "NetworkID": STR,
        "EndpointID": STR,
        "Gateway": STR,
        "IPAddress": STR,
        "IPPrefixLen": INT,
        "IPv6Gateway": STR,
        "GlobalIPv6Address": STR,
        "GlobalIPv6PrefixLen": INT,
        "MacAddress": STR,
        "DriverOpts": RAW,
    }
)

NETWORKING_CONFIG = Struct({"EndpointsConfig": MapOf(ENDPOINT_SETTINGS)})

# POST /containers/create: the Config struct embedded, plus HostConfig and NetworkingConfig.
CONTAINER_CREATE = Struct(
    {**CONTAINER_CONFIG_FIELDS, "HostConfig": HOST_CONFIG, "NetworkingConfig": NETWORKING_CONFIG}
)

# POST /containers/{id}/update
CONTAINER_UPDATE = Struct({**RESOURCES_FIELDS, "RestartPolicy": RESTART_POLICY})

# POST /containers/{id}/exec
EXEC_CREATE = Struct(
    {
        "User": STR,
        "Privileged": BOOL,
        "Tty": BOOL,
        "AttachStdin": BOOL,
        "AttachStderr": BOOL,
        "AttachStdout": BOOL,
        "Detach": BOOL,
        "DetachKeys": STR,
        "Env": ListOf(STR),
        "WorkingDir": STR,
        "Cmd": STRSLICE,
    }
)

# POST /exec/{id}/start
EXEC_START = Struct({"Detach": BOOL, "Tty": BOOL})

VOLUME_CREATE = Struct({"Name": STR, "Driver": STR, "DriverOpts": RAW, "Labels": MapOf(STR)})

NETWORK_CREATE = Struct(
    {
        "Name": STR,
        "CheckDuplicate": BOOL,
        "Driver": STR,
        "Scope": STR,
        "EnableIPv6": BOOL,
        "IPAM": RAW,
        "Internal": BOOL,
        "Attachable": BOOL,
        "Ingress": BOOL,
        "ConfigOnly": BOOL,
        "ConfigFrom": RAW,
        "Options": RAW,
        "Labels": MapOf(STR),
    }
)

NETWORK_CONNECT = Struct({"Container": STR, "EndpointConfig": ENDPOINT_SETTINGS})
NETWORK_DISCONNECT = Struct({"Container": STR, "Force": BOOL})
