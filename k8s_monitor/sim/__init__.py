"""A simulated cluster: a loopback Kubernetes API server replaying scenario files.

from k8s_monitor.sim import SimServer, load_scenario, generated_cluster

with SimServer(load_scenario("incident-day")) as server:
    server.write_kubeconfig(tmp_path / "kubeconfig")
    ...
    server.advance()
"""

from k8s_monitor.sim.faults import Faults
from k8s_monitor.sim.generated import GeneratedCluster, generated_cluster
from k8s_monitor.sim.scenario import Scenario, load_scenario, shipped_scenarios
from k8s_monitor.sim.server import SimRequest, SimServer
from k8s_monitor.sim.view import ClusterSource, ClusterView

__all__ = [
    "ClusterSource",
    "ClusterView",
    "Faults",
    "GeneratedCluster",
    "Scenario",
    "SimRequest",
    "SimServer",
    "generated_cluster",
    "load_scenario",
    "shipped_scenarios",
]
