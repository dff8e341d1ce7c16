import AirlockAdmin
import AirlockCore
import ArgumentParser

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "GPU nodes: enrol, list, show, drain, resume, revoke.",
        discussion: """
            These commands read and change what the database holds about a node: its enrolment \
            (pending, enrolled, revoked), the operator's drain flag and its certificate. Live state \
            (joining, active, draining and why, dead) comes from the running daemon's snapshot \
            (<data_dir>/run/nodes.json, every 5 s); without a fresh one it shows as unknown.
            """,
        subcommands: [Enroll.self, List.self, Show.self, Drain.self, Resume.self, Reload.self, Revoke.self])

    static func show(_ nodes: [Node], live: LiveNodesSnapshot?, json: Bool) {
        if json { return Output.json(nodes) }
        let states = Dictionary((live?.nodes ?? []).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        Output.table(["NAME", "ID", "ORG", "ZONE", "ENROLMENT", "DRAINING", "LIVE", "LOAD", "ENROLLED AT"], nodes.map {
            let state = states[$0.id.rawValue]
            return [$0.name, $0.id.rawValue, owner($0), $0.zone ?? "-", $0.enrolment.rawValue, yesNo($0.draining),
                    state?.summary ?? (live == nil ? "unknown" : "not connected"), state.map { String(format: "%.2f", $0.load) } ?? "-",
                    Output.text($0.enrolledAt)]
        })
        if live == nil { print("(live state unknown: airlockd is not running, or its snapshot is older than 30 s)") }
    }

    static func showOne(_ node: Node, live: LiveNodesSnapshot?, json: Bool) {
        if json { return Output.json(node) }
        let state = live?.nodes.first { $0.id == node.id.rawValue }
        Output.fields([
            ("live", state?.summary ?? (live == nil ? "unknown (airlockd not running?)" : "not connected")),
            ("load", state.map { String(format: "%.2f (%d in flight)", $0.load, $0.requestsInFlight) } ?? "-"),
            ("gpus", state.map { String($0.gpus) } ?? "-"),
            ("id", node.id.rawValue), ("name", node.name), ("org", owner(node)), ("zone", node.zone ?? "-"),
            ("enrolment", node.enrolment.rawValue), ("draining", yesNo(node.draining)), ("created", node.createdAt.description),
            ("enrolled", Output.text(node.enrolledAt)), ("certificate sha256", node.certificateSHA256 ?? "-"),
        ])
    }

    static func showChange(_ node: Node, _ text: String, json: Bool) {
        json ? Output.json(node) : print("node \(node.name) (\(node.id)) \(text)")
    }

    static func owner(_ node: Node) -> String { node.orgID?.rawValue ?? "shared" }
    static func yesNo(_ flag: Bool) -> String { flag ? "yes" : "no" }

    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a node and issue its one-time enrolment token (printed once).",
            discussion: "Carry the token to the GPU host and run `airlock-agent enroll --token TOKEN ...` there before it expires.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Unique name: letters, digits, '.', '_', '-'.") var name: String
        @Option(help: "Org (id or name) that owns the node and alone may use it (default: shared by every org).") var org: String?
        @Option(help: "Zone the node serves (made on first use).") var zone: String?
        @Option(help: ArgumentHelp("How long the token stays usable: 30m, 24h, 7d (1 minute to 30 days).", valueName: "duration"))
        var validFor = "24h"

        func run() async throws {
            try await runReportingErrors {
                let seconds = try Self.seconds(validFor)
                let issued = try await global.admin().enrollNode(
                    name: name, org: org, zone: zone, validForSeconds: seconds, by: global.actor)
                if global.json { return Output.json(issued) }
                let node = issued.node
                print("registered node \(node.name) (\(node.id)), awaiting enrolment")
                Output.fields([("org", owner(node)), ("zone", node.zone ?? "-"), ("token expires", issued.expiresAt.description)])
                print("")
                print("  \(issued.token)")
                print("")
                print("This token is shown once. Carry it to the GPU host and use it there with `airlock-agent enroll --token TOKEN ...`.")
            }
        }

        /// The 1 minute…30 days range is the admin layer's rule.
        static func seconds(_ duration: String) throws -> Int64 {
            guard let seconds = AdminInput.durationSeconds(duration) else {
                throw AirlockError.invalidArgument("invalid --valid-for '\(duration)': use a duration such as 30m, 24h or 7d")
            }
            return seconds
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List nodes with their enrolment, drain flag and live state (never tokens).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runReportingErrors {
                NodeCommand.show(try await global.admin().listNodes(), live: try global.liveNodes(), json: global.json)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one node, including its certificate's SHA-256 fingerprint and live state.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Node id or name.") var node: String

        func run() async throws {
            try await runReportingErrors {
                NodeCommand.showOne(try await global.admin().node(node), live: try global.liveNodes(), json: global.json)
            }
        }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drain a node: it takes no new work and finishes what it has.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Node id or name.") var node: String

        func run() async throws {
            try await runReportingErrors {
                let drained = try await global.admin().setNodeDraining(node, true, by: global.actor)
                NodeCommand.showChange(drained, "is draining", json: global.json)
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a drained node: it takes new work again.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Node id or name.") var node: String

        func run() async throws {
            try await runReportingErrors {
                let resumed = try await global.admin().setNodeDraining(node, false, by: global.actor)
                NodeCommand.showChange(resumed, "is no longer draining", json: global.json)
            }
        }
    }

    struct Reload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restart a node's engine without losing a request (drain, wait until idle, restart, resume).",
            discussion: """
                Only an agent that starts its engine (airlock-agent run --engine-command) can; the daemon logs \
                the outcome ("node command result"). A node that is not connected when asked reloads when it \
                connects again, unless the daemon restarts first.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Node id or name.") var node: String

        func run() async throws {
            try await runReportingErrors {
                let asked = try await global.admin().requestEngineReload(node, by: global.actor)
                NodeCommand.showChange(asked, "will reload its engine (the daemon tells its agent within a second)", json: global.json)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a node for good: its certificate stops connecting and any unused token stops working.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Node id or name.") var node: String

        func run() async throws {
            try await runReportingErrors {
                NodeCommand.showChange(try await global.admin().revokeNode(node, by: global.actor), "is revoked", json: global.json)
            }
        }
    }
}
