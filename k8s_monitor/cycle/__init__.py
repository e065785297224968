"""One monitoring cycle: ``runner`` runs the stages in order (the only module that knows it).

Beside it: ``observe`` (the front half: snapshot to incidents, shared with ``compare``),
``stages`` (what a cycle runs through), ``monitor_incidents`` (blind, model disabled),
``report_fill`` (the cycle report and its log line), ``accounting`` (what is counted).

Nothing is imported here: ``analyze --from-file`` uses ``observe`` alone and must not load the
model and Kubernetes clients the runner brings.
"""
