/// Days and calendar months in UTC, from integers only: the day a ledger row belongs to in
/// `usage_daily` and reports, and the month the free tier counts in. (Civil-from-days after
/// Howard Hinnant's public-domain algorithm; no `Calendar`, whose answers depend on the host.)
public enum UTCCalendar {
    public static let millisPerDay: Int64 = 86_400_000

    /// Days since 1970-01-01 of the instant (floor, so instants before 1970 land on their day).
    public static func day(of instant: UnixMillis) -> Int64 { instant.value.floorDiv(millisPerDay) }

    /// The first day of the month holding `day`, and the first day of the next month.
    public static func month(containing day: Int64) -> Range<Int64> {
        let (year, month, _) = civil(fromDays: day)
        let start = days(fromYear: year, month: month, day: 1)
        let next = month == 12 ? days(fromYear: year + 1, month: 1, day: 1) : days(fromYear: year, month: month + 1, day: 1)
        return start..<next
    }

    /// `2026-12-05` for a day number.
    public static func isoDate(_ day: Int64) -> String {
        let (year, month, dayOfMonth) = civil(fromDays: day)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(dayOfMonth))"
    }

    public static func days(fromYear year: Int64, month: Int64, day: Int64) -> Int64 {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = shiftedYear.floorDiv(400)
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    public static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = shifted.floorDiv(146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
