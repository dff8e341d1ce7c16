import AirlockCore

/// How each chained table turns a row into hash input: these fields, in this order, then `seq`
/// and `prev_hash` (``RowDigest/linked(seq:prevHash:)``). The field order here *is* the format:
/// changing it breaks verification of every existing appliance, so a new layout needs a new
/// domain string (`….v2`) and a verifier that knows both.
enum ChainedRows {
    /// Ledger row formats, stored per row in `usage_ledger.format`. 1: the original fields.
    /// 2 (migration 008): the same, then `failover`. New rows are written in the newest; a
    /// verifier picks each row's format from the row, and refuses a row older in format than the
    /// row before it (relabelling a row to drop a field from its hash).
    static let ledgerFormat: Int64 = 2
    static let ledgerDomains: [Int64: String] = [1: "airlock.usage_ledger.v1", 2: "airlock.usage_ledger.v2"]
    static let auditDomain = "airlock.audit_log.v1"

    static func ledgerDigest(_ record: UsageRecord, format: Int64 = ledgerFormat) -> RowDigest {
        var encoding = CanonicalEncoding(domain: ledgerDomains[format] ?? "airlock.usage_ledger.unknown")
        encoding.append(record.usageID)
        encoding.append(record.requestID)
        encoding.append(record.timestamp.value)
        encoding.append(record.orgID.rawValue)
        encoding.append(record.envID.rawValue)
        encoding.append(record.keyID.rawValue)
        encoding.append(record.zone)
        encoding.append(record.model)
        encoding.append(record.node)
        encoding.append(record.promptTokens)
        encoding.append(record.completionTokens)
        encoding.append(record.totalTokens)
        encoding.append(record.latencyMillis)
        encoding.append(record.costMicros)
        encoding.append(record.streamed)
        encoding.append(record.finishReason)
        encoding.append(record.tokenSource.rawValue)
        if format >= 2 { encoding.append(record.failover) }
        return encoding.digest
    }

    static func auditDigest(_ entry: AuditEntry) -> RowDigest {
        var encoding = CanonicalEncoding(domain: auditDomain)
        encoding.append(entry.timestamp.value)
        encoding.append(entry.actor)
        encoding.append(entry.action)
        encoding.append(entry.targetType)
        encoding.append(entry.targetID)
        encoding.append(entry.before)
        encoding.append(entry.after)
        return encoding.digest
    }
}
