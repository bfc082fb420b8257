"""Data-parallel training with torch.distributed: who runs where, and the few collectives
the trainer needs.

Two halves:

- `topology()` + `launch_command()` (standard library only, used by the container entry
  point): one function maps what SageMaker, an AWS Batch multi-node parallel job or a plain
  machine tells a node onto torchrun's terms (nodes, this node's rank, processes per node,
  master address and port). The entry point then starts torchrun (`torchrun.py`, which is
  `python -m torch.distributed.run` with a torch 1.13 repair), which sets `RANK`,
  `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR` and `MASTER_PORT` for each trainer process: the
  one form the trainer reads.
- `start()` + `Context` (torch, used by the trainer): joins the process group from that
  environment (NCCL on GPU, gloo on CPU) and offers sums, broadcasts from rank 0, gathers,
  the DDP wrapper and its join for uneven shards. A single process gets `LOCAL`, whose
  operations are the identity, so the single-process trainer runs the same code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

# Set by the infrastructure on Batch (job definition) and by the launcher on SageMaker
# (CreateTrainingJob Environment): trainer processes per node, normally its GPU count.
# Defined once, in constructs/training/contract.ts (TRAINER_ENVIRONMENT); a test checks they agree.
PROCESSES_PER_NODE_ENV = "ML_PROCESSES_PER_NODE"
DEFAULT_MASTER_PORT = 29500
# Written by SageMaker into every training container (BYO images get no SM_* variables).
RESOURCE_CONFIG = "/opt/ml/input/config/resourceconfig.json"
TORCHRUN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torchrun.py")


@dataclass(frozen=True)
class Topology:
    """One node's place in the job, in torchrun's terms."""

    nodes: int
    node_rank: int
    processes_per_node: int
    master_addr: str
    master_port: int
    source: str  # local | sagemaker | batch
    network_interface: Optional[str] = None

    @property
    def world_size(self) -> int:
        return self.nodes * self.processes_per_node


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be at least 0, got {raw!r}")
    return value


def topology(
    env: Mapping[str, str],
    resource_config: Optional[Mapping[str, Any]] = None,
    hostname: str = "localhost",
) -> Topology:
    """Maps SageMaker (`SM_HOSTS`/`SM_CURRENT_HOST`/`SM_NUM_GPUS`, or resourceconfig.json),
    AWS Batch multi-node parallel (`AWS_BATCH_JOB_NUM_NODES`/`..._NODE_INDEX`/
    `..._MAIN_NODE_INDEX`/`..._MAIN_NODE_PRIVATE_IPV4_ADDRESS`) or a single machine onto
    torchrun's node arguments. `ML_PROCESSES_PER_NODE` wins over the GPU count everywhere
    (0 or unset: the GPU count, at least 1)."""
    port = _positive(env, "MASTER_PORT", DEFAULT_MASTER_PORT)
    override = _positive(env, PROCESSES_PER_NODE_ENV, 0)

    hosts: Optional[List[str]] = None
    current: Optional[str] = None
    interface: Optional[str] = None
    if env.get("SM_HOSTS"):
        hosts = list(json.loads(env["SM_HOSTS"]))
        current = env.get("SM_CURRENT_HOST")
        interface = env.get("SM_NETWORK_INTERFACE_NAME") or None
    elif resource_config and resource_config.get("hosts"):
        hosts = list(resource_config["hosts"])
        current = resource_config.get("current_host")
        interface = resource_config.get("network_interface_name") or None
    if hosts is not None:
        if current not in hosts:
            raise ValueError(f"SageMaker current host {current!r} is not one of the hosts {hosts}")
        gpus = _positive(env, "SM_NUM_GPUS", 0)
        return Topology(
            nodes=len(hosts),
            node_rank=hosts.index(current),
            processes_per_node=override or max(gpus, 1),
            master_addr=hosts[0],
            master_port=port,
            source="sagemaker",
            network_interface=interface,
        )

    if env.get("AWS_BATCH_JOB_NUM_NODES"):
        nodes = _positive(env, "AWS_BATCH_JOB_NUM_NODES", 1)
        index = _positive(env, "AWS_BATCH_JOB_NODE_INDEX", 0)
        main = _positive(env, "AWS_BATCH_JOB_MAIN_NODE_INDEX", 0)
        if not (0 <= index < nodes and 0 <= main < nodes):
            raise ValueError(f"AWS Batch node index {index} / main node {main} outside 0..{nodes - 1}")
        # torchrun's rank 0 hosts the rendezvous, so the main node is node rank 0 whatever
        # its Batch index. Batch gives child nodes the main node's address, not the main node.
        return Topology(
            nodes=nodes,
            node_rank=(index - main) % nodes,
            processes_per_node=override or 1,
            master_addr=env.get("AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS") or hostname,
            master_port=port,
            source="batch",
        )

    return Topology(
        nodes=1,
        node_rank=0,
        processes_per_node=override or 1,
        master_addr=env.get("MASTER_ADDR") or "127.0.0.1",
        master_port=port,
        source="local",
    )


def read_resource_config(path: str = RESOURCE_CONFIG) -> Optional[Dict[str, Any]]:
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def launch_command(python: str, script: str, argv: List[str], topo: Topology, env: Mapping[str, str]) -> List[str]:
    """The trainer command for this node: torchrun when the job has more than one process
    (and we are not already inside one), else the trainer itself."""
    if topo.world_size == 1 or "RANK" in env:
        return [python, script, *argv]
    return [
        python,
        TORCHRUN,
        f"--nnodes={topo.nodes}",
        f"--node_rank={topo.node_rank}",
        f"--nproc_per_node={topo.processes_per_node}",
        f"--master_addr={topo.master_addr}",
        f"--master_port={topo.master_port}",
        script,
        *argv,
    ]


def launch_env(env: Mapping[str, str], topo: Topology) -> Dict[str, str]:
    """NCCL and gloo pick the interface SageMaker names (its containers have several)."""
    out = dict(env)
    if topo.network_interface:
        out.setdefault("NCCL_SOCKET_IFNAME", topo.network_interface)
        out.setdefault("GLOO_SOCKET_IFNAME", topo.network_interface)
    return out


def node_topology(env: Mapping[str, str]) -> Topology:
    return topology(env, read_resource_config(), socket.gethostname())


class Context:
    """This process's rank in the job and the collectives the trainer uses."""

    def __init__(self, rank: int = 0, world_size: int = 1, local_rank: int = 0, backend: Optional[str] = None):
        self.rank, self.world_size, self.local_rank, self.backend = rank, world_size, local_rank, backend

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def device(self, device):  # noqa: ANN001, ANN201 - torch.device in, torch.device out
        import torch

        if device.type == "cuda" and self.distributed:
            return torch.device("cuda", self.local_rank)
        return device

    def _collective_device(self):  # noqa: ANN202
        import torch

        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")

    def wrap(self, model):  # noqa: ANN001, ANN201
        """DDP around the model; its gradients are averaged over the ranks on every step."""
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        device = next(model.parameters()).device
        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def join(self, net) -> contextlib.AbstractContextManager:  # noqa: ANN001
        """Ranks whose shards run out first keep answering the others' gradient all-reduces."""
        return net.join() if self.distributed else contextlib.nullcontext()

    def sum(self, value: float) -> float:
        if not self.distributed:
            return float(value)
        import torch
        import torch.distributed as dist

        t = torch.tensor([float(value)], dtype=torch.float64, device=self._collective_device())
        dist.all_reduce(t)
        return float(t.item())

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's value, on every rank."""
        if not self.distributed:
            return obj
        import torch.distributed as dist

        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0, device=self._collective_device())
        return box[0]

    def gather(self, obj: Any) -> List[Any]:
        """Every rank's value, in rank order, on every rank."""
        if not self.distributed:
            return [obj]
        import torch.distributed as dist

        out: List[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


LOCAL = Context()


def start(hp_device: str, env: Optional[Mapping[str, str]] = None) -> Context:
    """Joins the process group that torchrun describes (`RANK`, `WORLD_SIZE`, ...); `LOCAL`
    when there is none. NCCL when this process trains on CUDA, gloo otherwise."""
    env = os.environ if env is None else env
    world_size = int(env.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return LOCAL
    import torch
    import torch.distributed as dist

    rank, local_rank = int(env["RANK"]), int(env.get("LOCAL_RANK", "0"))
    cuda = hp_device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local_rank)
    backend = "nccl" if cuda else "gloo"
    dist.init_process_group(backend, init_method="env://", timeout=dt.timedelta(minutes=30))
    return Context(rank, world_size, local_rank, backend)
