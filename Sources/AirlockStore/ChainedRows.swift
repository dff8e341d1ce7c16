import AirlockCore

/// How each chained table turns a row into hash input: these fields, in this order, then `seq`
/// and `prev_hash` (``RowDigest/linked(seq:prevHash:)``). The field order here *is* the format:
/// changing it breaks verification of every existing appliance, so a new layout needs a new
/// domain string (`….v2`) and a verifier that knows both.
enum ChainedRows {
    static let ledgerDomain = "airlock.usage_ledger.v1"
    static let auditDomain = "airlock.audit_log.v1"

    static func ledgerDigest(_ record: UsageRecord) -> RowDigest {
        var encoding = CanonicalEncoding(domain: ledgerDomain)
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
