import AirlockAdmin
import Foundation

/// Building HTML as text, with every value escaped on the way in: `HTML.text` for content and
/// attribute values alike. Pages never concatenate a raw value.
public enum HTML {
    public static func text(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for character in value {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A table: header cells (escaped) and rows of already-built cell HTML.
    static func table(id: String? = nil, _ headers: [String], _ rows: [[String]], empty: String = "Nothing yet.") -> String {
        guard !rows.isEmpty else { return "<p class=\"empty\">\(text(empty))</p>" }
        let head = headers.map { "<th>\(text($0))</th>" }.joined()
        let body = rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined(separator: "\n")
        return "<table\(id.map { " id=\"\(text($0))\"" } ?? "")><thead><tr>\(head)</tr></thead><tbody>\n\(body)\n</tbody></table>"
    }

    /// A POST form carrying the session's CSRF token. `fields` is already-built input HTML.
    static func form(action: String, csrf: String, id: String? = nil, cssClass: String? = nil, _ fields: String, submit: String,
                     danger: Bool = false) -> String {
        let idAttribute = id.map { " id=\"\(text($0))\"" } ?? ""
        let classAttribute = cssClass.map { " class=\"\(text($0))\"" } ?? ""
        return """
            <form method="post" action="\(text(action))"\(idAttribute)\(classAttribute)><input type="hidden" name="csrf" value="\(text(csrf))">\
            \(fields)<button type="submit"\(danger ? " class=\"danger\"" : "")>\(text(submit))</button></form>
            """
    }

    static func input(_ name: String, label: String, type: String = "text", required: Bool = false, placeholder: String? = nil) -> String {
        let extra = (required ? " required" : "") + (placeholder.map { " placeholder=\"\(text($0))\"" } ?? "")
        return "<label>\(text(label)) <input type=\"\(type)\" name=\"\(text(name))\"\(extra)></label>"
    }

    static func select(_ name: String, label: String, options: [(value: String, label: String)], selected: String? = nil) -> String {
        let items = options.map {
            "<option value=\"\(text($0.value))\"\($0.value == selected ? " selected" : "")>\(text($0.label))</option>"
        }.joined()
        return "<label>\(text(label)) <select name=\"\(text(name))\">\(items)</select></label>"
    }

    static func link(_ href: String, _ label: String, cssClass: String? = nil, id: String? = nil) -> String {
        let attributes = (id.map { " id=\"\(text($0))\"" } ?? "") + (cssClass.map { " class=\"\(text($0))\"" } ?? "")
        return "<a href=\"\(text(href))\"\(attributes)>\(text(label))</a>"
    }

    static func badge(_ value: String) -> String { "<span class=\"badge \(text(value))\">\(text(value))</span>" }

    /// A whole page: header with the navigation this principal may use, then `body`.
    static func page(title: String, principal: AdminPrincipal?, csrf: String?, active: String, _ body: String) -> String {
        var nav = ""
        if let principal {
            let items: [(String, String, Permission?)] = [
                ("/", "Overview", .readUsage), ("/usage", "Usage", .readUsage), ("/chargeback", "Chargeback", .readUsage),
                ("/tenants", "Tenants", .readTenancy),
                ("/nodes", "Nodes", .readInfrastructure), ("/models", "Models", .readTenancy),
                ("/license", "Licence", .readInfrastructure), ("/upgrades", "Upgrades", .readAudit), ("/audit", "Audit log", .readAudit),
                ("/users", "Users", .manageUsers),
            ]
            nav = items.filter { $0.2.map(principal.may) ?? true }.map { href, label, _ in
                "<a href=\"\(href)\"\(href == active ? " class=\"active\" aria-current=\"page\"" : "")>\(text(label))</a>"
            }.joined(separator: "\n")
            let signOut = csrf.map { form(action: "/logout", csrf: $0, id: "sign-out", "", submit: "Sign out") } ?? ""
            nav += "<span class=\"who\">\(text(principal.actor.name)) · \(text(principal.role.rawValue))</span>\(signOut)"
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(text(title)) · Airlock</title><link rel="stylesheet" href="/assets/airlock.css"></head>
            <body><header><span class="brand">Airlock</span><nav>\(nav)</nav></header>
            <main><h1>\(text(title))</h1>
            \(body)
            </main></body></html>
            """
    }
}
