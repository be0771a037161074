"""The day-2 command line: ``werfop get``, ``status``, ``reconcile``, ``redeploy``,
``retry``, ``rollback``, ``suspend``, ``resume``, ``version`` and ``completion`` (also
``kubectl werfop ...``, through the ``kubectl-werfop`` entry point).

Modules: ``commands`` (argparse and the handlers: the only part that does I/O besides
``bundles`` and ``wait``), ``bundles`` (reads and patches over ``KubernetesApi``),
``levers`` (what each command changes and how the status shows it was handled, pure),
``wait`` (``--wait``), ``table`` and ``explain`` (rendering, pure), ``age`` (kubectl's
ages), ``completion`` (shell scripts from the parser).
Must not: decide anything the operator decides, or print a Secret's data.
"""
