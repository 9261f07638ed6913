// Package fluxconfig renders what a Flux broker of an elasticflux MiniCluster
// needs to start, as pure functions of plain values: no Kubernetes types, no
// I/O, no logging. The controller puts the results in a ConfigMap and a
// Secret and mounts them into the broker pods.
//
// What is rendered, and why:
//
//   - The broker TOML (RenderBrokerTOML). Brokers bootstrap from
//     configuration, not PMI: the [bootstrap] hosts list names every broker
//     up to maxSize as one RFC 29 hostlist ("flux-sample-[0-7]"), and each
//     broker finds its rank by finding its own hostname there. This is the
//     trick that makes a MiniCluster elastic: Flux tolerates brokers that are
//     offline, so the instance starts with the brokers that exist (at least
//     the quorum, minSize), a broker whose pod appears later finds itself in
//     the list and joins, and one whose pod goes away just goes offline.
//     maxSize is therefore fixed for the life of a MiniCluster, and size
//     moves freely between minSize and maxSize. Brokers reach each other
//     through the headless Service (%h.<service>.<namespace>.svc.<domain>).
//   - R, the resource set (RenderR), RFC 20 version 1. It must name exactly
//     the hosts of the bootstrap list, all maxSize of them; when the cores
//     per broker are not known, the start script writes it instead with
//     flux R encode.
//   - The CURVE certificate (NewCurveCertificate, ParseCurveCertificate):
//     one X25519 key pair, in Z85 (RFC 32), in the ZPL text file Flux reads.
//     All brokers share it; it authenticates and encrypts the overlay.
//   - The start script (RenderStartScript) and the preStop hook
//     (RenderPreStopScript), POSIX sh. The start script turns the pod's
//     JOB_COMPLETION_INDEX into the broker's role (rank 0 runs the command
//     and keeps the archive), and the preStop hook drains a leaving broker
//     so scale-down does not kill work silently.
//
// Hostlists (EncodeHostlist, DecodeHostlist) and Z85 (EncodeZ85, DecodeZ85)
// are implemented here because no Go library provides them.
package fluxconfig
