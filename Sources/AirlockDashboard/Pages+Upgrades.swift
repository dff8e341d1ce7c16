import AirlockAdmin
import AirlockAdminAPI
import AirlockCore
import Foundation
import Hummingbird

/// The release the appliance runs, its upgrade history, and the agent roll-out. Upgrades of the
/// appliance itself are applied on the box (`airlock upgrade apply`, as root, with the bundle on
/// removable media), never from a browser; the roll-out of the agent to the nodes may start here.
extension Dashboard {
    static var upgradePages: [DashboardPage] { [
        DashboardPage(.get, "/upgrades", .readAudit) { dashboard, call in try await dashboard.upgrades(call) },
        DashboardPage(.post, "/upgrades/agents", .manageInfrastructure) { dashboard, call in
            guard let rollouts = dashboard.api.dependencies.agentRollouts else { throw AirlockError.invalidArgument("agent roll-outs are not available here") }
            _ = try await rollouts.start(actor: call.principal.actor.name)
            return Dashboard.redirect("/upgrades")
        },
    ] }

    private func upgrades(_ call: PageCall) async throws -> Response {
        let running = api.dependencies.release
        var body = HTML.table(id: "release", ["", ""], [
            ["Release", HTML.text(running.release ?? "not started from a release folder")], ["Build", HTML.text(running.build)],
        ])
        let history = try await api.dependencies.ledger.auditPage(beforeSeq: nil, limit: 50, actionPrefix: "upgrade.", actor: nil)
        body += "<h2>History</h2>" + HTML.table(id: "upgrade-history", ["When", "What", "Release", "Details", "By"], history.map { row in
            let entry = row.entry
            return [HTML.text(entry.timestamp.description), HTML.badge(entry.action), HTML.text(entry.targetID),
                    HTML.text(entry.after ?? ""), HTML.text(entry.actor)]
        }, empty: "No upgrade yet.")
        body += "<h2>Agent roll-out</h2>"
        if let rollout = api.dependencies.agentRollouts?.latest() {
            body += "<p>Release \(HTML.text(rollout.release)), started by \(HTML.text(rollout.startedBy)) at \(HTML.text(rollout.startedAt.description)): "
                + HTML.badge(rollout.state.rawValue) + "</p>"
            body += HTML.table(id: "agent-rollout", ["Node", "From", "State", "Message"], rollout.nodes.map { node in
                [HTML.text(node.nodeName), HTML.text(node.from), HTML.badge(node.state.rawValue), HTML.text(node.message ?? "")]
            })
        } else {
            body += "<p>None since the daemon started.</p>"
        }
        if call.principal.may(.manageInfrastructure), api.dependencies.agentRollouts != nil, running.release != nil {
            body += HTML.form(action: "/upgrades/agents", csrf: call.csrf, id: "roll-out-agents", "", submit: "Roll agent \(running.release ?? "") out to the nodes")
            body += "<p class=\"note\">One node at a time: each agent checks the release's signature, drains, restarts and registers again; the roll-out stops at the first node that fails.</p>"
        }
        body += """
            <p class="note">The appliance itself is upgraded on the box from a signed bundle: <code>airlock upgrade verify</code>, \
            <code>airlock upgrade apply</code>, <code>airlock upgrade rollback</code> (docs/OPERATIONS.md § Upgrades).</p>
            """
        return call.page("Upgrades", active: "/upgrades", body)
    }
}
