"""Reading the cluster: config loading, collection, the snapshot model, log tails.

The cycle uses three names::

    from k8s_monitor.cluster.kubeconfig import load_api_client  # settings -> ApiClient
    from k8s_monitor.cluster.collect import Collector, CollectOptions
    collector = Collector(load_api_client(settings), CollectOptions.from_settings(settings),
                          redactor, cluster_name=settings.cluster_name)
    snapshot = collector.collect(now=now, since=previous_cycle_time)  # ClusterSnapshot
    collector.close()

Modules: ``kubeconfig`` (credentials, token rotation, EKS notes), ``transport`` (raw GETs through
the official client), ``readahead`` (the next page fetched while one decodes), ``pages``
(decoding list pages into structs), ``resources`` (what is listed, and the RBAC rule for each),
``sanitize`` (redaction of decoded objects), ``compact`` (sharing repeated values in big lists),
``logtails`` (which containers' logs, capped), ``snapshot`` (the typed result), ``lookup``
(bounded, read-only, redacted GETs of single objects, lists, events, logs, rollouts, nodes,
endpoints and ConfigMap keys: the model's tools and the evidence playbooks read through it).
Redaction itself lives in ``k8s_monitor.redaction``: logs, the model layer and sessions use it
too.
"""
