"""Where each process runs: SageMaker, AWS Batch multi-node parallel and local environments
mapped onto torchrun's terms, in one function."""

import json
import os
import unittest

from ml_trainer import distributed
from ml_trainer.distributed import Topology, launch_command, launch_env, topology
from ml_trainer.shards import ShardPlan, plan, row_hash, split_of

SM_HOSTS = json.dumps(["algo-1", "algo-2", "algo-3"])


class TopologyTest(unittest.TestCase):
    def test_maps_each_environment_onto_torchrun_terms(self):
        # (name, env, resourceconfig.json, expected (nodes, node_rank, processes, master, source))
        table = [
            ("plain machine", {}, None, (1, 0, 1, "127.0.0.1", "local")),
            ("local CPU run with 2 processes", {"ML_PROCESSES_PER_NODE": "2"}, None, (1, 0, 2, "127.0.0.1", "local")),
            (
                "SageMaker toolkit variables",
                {"SM_HOSTS": SM_HOSTS, "SM_CURRENT_HOST": "algo-2", "SM_NUM_GPUS": "4"},
                None,
                (3, 1, 4, "algo-1", "sagemaker"),
            ),
            (
                "SageMaker CPU instance: one process",
                {"SM_HOSTS": SM_HOSTS, "SM_CURRENT_HOST": "algo-1", "SM_NUM_GPUS": "0"},
                None,
                (3, 0, 1, "algo-1", "sagemaker"),
            ),
            (
                "SageMaker BYO image: resourceconfig.json, GPUs from the launcher",
                {"ML_PROCESSES_PER_NODE": "8"},
                {"current_host": "algo-3", "hosts": ["algo-1", "algo-2", "algo-3"], "network_interface_name": "eth0"},
                (3, 2, 8, "algo-1", "sagemaker"),
            ),
            (
                "Batch main node: no main address variable, its own",
                {"AWS_BATCH_JOB_NUM_NODES": "3", "AWS_BATCH_JOB_NODE_INDEX": "0", "AWS_BATCH_JOB_MAIN_NODE_INDEX": "0",
                 "ML_PROCESSES_PER_NODE": "4"},
                None,
                (3, 0, 4, "10.0.0.5", "batch"),
            ),
            (
                "Batch child node",
                {"AWS_BATCH_JOB_NUM_NODES": "3", "AWS_BATCH_JOB_NODE_INDEX": "2", "AWS_BATCH_JOB_MAIN_NODE_INDEX": "0",
                 "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS": "10.0.1.7", "ML_PROCESSES_PER_NODE": "4"},
                None,
                (3, 2, 4, "10.0.1.7", "batch"),
            ),
            (
                "Batch main node at index 1: it becomes node rank 0, index 0 becomes the last",
                {"AWS_BATCH_JOB_NUM_NODES": "3", "AWS_BATCH_JOB_NODE_INDEX": "0", "AWS_BATCH_JOB_MAIN_NODE_INDEX": "1",
                 "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS": "10.0.1.7"},
                None,
                (3, 2, 1, "10.0.1.7", "batch"),
            ),
        ]
        for name, env, config, expected in table:
            with self.subTest(name):
                t = topology(env, config, hostname="10.0.0.5")
                self.assertEqual((t.nodes, t.node_rank, t.processes_per_node, t.master_addr, t.source), expected)
                self.assertEqual(t.master_port, 29500)
                self.assertEqual(t.world_size, expected[0] * expected[2])

    def test_master_port_and_interface(self):
        t = topology({"MASTER_PORT": "23456"}, {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth1"})
        self.assertEqual((t.master_port, t.network_interface), (23456, "eth1"))
        env = launch_env({"PATH": "/bin"}, t)
        self.assertEqual((env["NCCL_SOCKET_IFNAME"], env["GLOO_SOCKET_IFNAME"], env["PATH"]), ("eth1", "eth1", "/bin"))

    def test_fails_on_inconsistent_environments(self):
        for env, config, message in [
            ({"SM_HOSTS": SM_HOSTS, "SM_CURRENT_HOST": "algo-9"}, None, r"current host 'algo-9' is not one of"),
            ({"AWS_BATCH_JOB_NUM_NODES": "2", "AWS_BATCH_JOB_NODE_INDEX": "2"}, None, r"node index 2 / main node 0 outside 0..1"),
            ({"ML_PROCESSES_PER_NODE": "two"}, None, r"ML_PROCESSES_PER_NODE must be an integer, got 'two'"),
        ]:
            with self.subTest(message), self.assertRaisesRegex(ValueError, message):
                topology(env, config)


class LaunchCommandTest(unittest.TestCase):
    TWO_NODES = Topology(nodes=2, node_rank=1, processes_per_node=4, master_addr="algo-1", master_port=29500, source="sagemaker")

    def test_one_process_runs_the_trainer_itself(self):
        one = Topology(1, 0, 1, "127.0.0.1", 29500, "local")
        self.assertEqual(launch_command("py", "train.py", ["train"], one, {}), ["py", "train.py", "train"])

    def test_several_processes_start_torchrun_with_this_nodes_place(self):
        self.assertEqual(
            launch_command("py", "train.py", ["train", "--epochs", "3"], self.TWO_NODES, {}),
            ["py", distributed.TORCHRUN, "--nnodes=2", "--node_rank=1", "--nproc_per_node=4",
             "--master_addr=algo-1", "--master_port=29500", "train.py", "train", "--epochs", "3"],
        )
        self.assertTrue(os.path.isfile(distributed.TORCHRUN))

    def test_inside_torchrun_it_does_not_start_another(self):
        self.assertEqual(launch_command("py", "train.py", [], self.TWO_NODES, {"RANK": "3"}), ["py", "train.py"])


class ShardPlanTest(unittest.TestCase):
    def test_whole_files_round_robin_when_there_are_enough(self):
        self.assertEqual([plan(5, r, 2) for r in range(2)], [ShardPlan((0, 2, 4), 1, 0), ShardPlan((1, 3), 1, 0)])

    def test_rows_round_robin_when_there_are_fewer_files_than_ranks(self):
        self.assertEqual([plan(1, r, 3) for r in range(3)], [ShardPlan((0,), 3, r) for r in range(3)])

    def test_the_split_of_a_row_depends_on_its_text_only(self):
        row = ["3", "pro", "80.5", "eu", "stay"]
        self.assertEqual(row_hash(row), row_hash(list(row)))
        self.assertNotEqual(row_hash(row), row_hash(["4", "pro", "80.5", "eu", "stay"]))
        self.assertEqual([split_of(u, (0.15, 0.3)) for u in (0.1, 0.2, 0.9)], [1, 2, 0])
        # Uniform enough that the fractions hold on a few thousand rows.
        hashes = [row_hash([str(i), "x"]) for i in range(4000)]
        self.assertAlmostEqual(sum(h < 0.15 for h in hashes) / 4000, 0.15, delta=0.02)


class LocalContextTest(unittest.TestCase):
    def test_a_single_process_context_is_the_identity(self):
        ctx = distributed.start("cpu", {})
        self.assertIs(ctx, distributed.LOCAL)
        self.assertTrue(ctx.is_main)
        self.assertEqual((ctx.sum(2.5), ctx.broadcast("x"), ctx.gather(1)), (2.5, "x", [1]))


if __name__ == "__main__":
    unittest.main()
