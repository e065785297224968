"""Turn a scenario ``World`` into the API objects a real cluster would show at one moment.

Controllers are imitated just far enough to be faithful where analyzers look: Deployments own
ReplicaSets own Pods (with a rolling update's surge/unavailable split), CronJobs own Jobs own
Pods, kubelet's crash back-off drives restart counts, and events carry counts and first/last
timestamps. Events older than an hour are dropped, as the apiserver's event TTL does.

One module per kind of object; ``Renderer`` (renderer.py) calls them in a fixed order:

    renderer.py      the order, the resources served, one world moment to a StaticView
    context.py       what they share: world, clock, resource versions, the output so far
    namespaces.py    Namespaces, ResourceQuotas
    nodes.py         Nodes (conditions, taints, capacity)
    deployments.py   Deployments and their ReplicaSets
    statefulsets.py  StatefulSets        daemonsets.py  DaemonSets
    jobs.py          CronJobs and Jobs
    pod_plan.py      what a controller decided about a pod (its state)
    pods.py          Pods and their status, evicted pods
    pod_logs.py      container logs and the kubelet's and scheduler's events per pod
    templates.py     pod templates and selector labels
    autoscaling.py   HorizontalPodAutoscalers       policy.py  PodDisruptionBudgets
    network.py       Services, EndpointSlices
    storage.py       StorageClasses, PersistentVolumeClaims, PersistentVolumes
    events.py        the event writer (TTL), timeline events, events outliving their pods
    faults.py        states the failure-mode scenarios add (refused creates, sandboxes, cordon)
    metrics.py       metrics.k8s.io usage
    quantities.py    memory and CPU quantities
"""

from k8s_monitor.sim.render.renderer import Renderer

__all__ = ["Renderer"]
