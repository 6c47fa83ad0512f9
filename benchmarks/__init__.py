"""s3lite benchmark suite: s3lite against its peers, on a real and on a null S3 server.

Run it with ``python -m benchmarks`` (see ``benchmarks/README.md``).

Modules, one job each:

- ``config``      modes, sizes, workload and client names, the worker spec
- ``runner``      prepares, runs the workers interleaved, shows progress, writes results
- ``servers``     local SeaweedFS, a server given by connection string, the null server
- ``fixtures``    the objects and the file the workloads read, and the cleanup
- ``worker``      one (client, workload, repeat) in a fresh process; prints one JSON line
- ``workloads``   the workload bodies, written once against the ``clients.base`` protocol
- ``clients/*``   one adapter per client (s3lite and each peer)
- ``nullserver``  a minimal S3 endpoint that discards uploads and serves bytes
- ``ceiling``     the null server's own throughput, measured with a raw socket client
- ``network``     ``python -m benchmarks.network``: single stream vs parallel parts, shaped link
- ``network_report`` its table, targets, markdown report and chart
- ``stats``       medians, ratios and verdicts against the issue's targets
- ``report``      console tables and the markdown report
- ``chart``       the PNG chart (matplotlib, Agg)
- ``machine``     what the run ran on (CPU, cores, RAM, versions)
- ``profile``     py-spy profile of the s3lite worker (top frames)
"""
