import Foundation

/// The Unix mode each entry of a ZIP file claims, read from the central directory. ZIPFoundation
/// reads these too but only tells regular files, folders and links apart, reporting a device or
/// FIFO entry as a file; a bundle must refuse those, so this reads the raw modes (APPNOTE 4.3.12,
/// 4.3.14–16). Entries not made on Unix carry no mode (0).
enum ZIPModes {
    /// Refuses a file that does not end with a ZIP end record (and its comment, if any). ZIP
    /// readers, ZIPFoundation among them, take the last end-record signature in the file's final
    /// 64 KiB; in a truncated file that can be stray bytes of a payload (any binary linking a ZIP
    /// library holds the signature), which then reads as some other, smaller archive.
    static func requireEndRecordAtEnd(of path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BundleError("cannot read \(path)") }
        defer { try? handle.close() }
        _ = try endRecord(handle, path: path)
    }

    static func unixModes(of path: String) throws -> [(name: String, mode: UInt32)] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BundleError("cannot read \(path)") }
        defer { try? handle.close() }
        let (tail, end, size) = try endRecord(handle, path: path)
        var directorySize = UInt64(tail.uint32(at: end + 12))
        var directoryOffset = UInt64(tail.uint32(at: end + 16))
        var entries = UInt64(tail.uint16(at: end + 10))
        if end >= 20, tail.uint32(at: end - 20) == 0x0706_4b50 {
            // ZIP64: the locator just before the end record points at the ZIP64 end record, which
            // ZIPFoundation then follows too (whatever the classic fields say).
            try handle.seek(toOffset: tail.uint64(at: end - 20 + 8))
            let record = [UInt8](try handle.read(upToCount: 56) ?? Data())
            guard record.count == 56, record.uint32(at: 0) == 0x0606_4b50 else { throw BundleError("\(path) has a damaged ZIP64 directory") }
            entries = record.uint64(at: 32)
            directorySize = record.uint64(at: 40)
            directoryOffset = record.uint64(at: 48)
        }
        guard directorySize <= 64 << 20, directoryOffset + directorySize <= size else { throw BundleError("\(path) has a damaged ZIP directory") }
        try handle.seek(toOffset: directoryOffset)
        let directory = [UInt8](try handle.read(upToCount: Int(directorySize)) ?? Data())
        var modes: [(String, UInt32)] = []
        var offset = 0
        while offset + 46 <= directory.count, directory.uint32(at: offset) == 0x0201_4b50 {
            let madeOn = directory[offset + 5]
            let nameLength = Int(directory.uint16(at: offset + 28))
            let next = offset + 46 + nameLength + Int(directory.uint16(at: offset + 30)) + Int(directory.uint16(at: offset + 32))
            guard next <= directory.count else { throw BundleError("\(path) has a damaged ZIP directory") }
            let name = String(decoding: directory[(offset + 46)..<(offset + 46 + nameLength)], as: UTF8.self)
            let external = directory.uint32(at: offset + 38)
            modes.append((name, madeOn == 3 || madeOn == 19 ? external >> 16 : 0))
            offset = next
        }
        // Every byte of the directory accounted for, by as many records as the end record says:
        // otherwise an entry could hide past where this reading stopped.
        guard offset == directory.count, UInt64(modes.count) == entries else { throw BundleError("\(path) has a damaged ZIP directory") }
        return modes
    }

    /// The file's last 64 KiB and some bytes (enough for the longest comment), the end record's
    /// offset in them, and the file's size; the record and its comment must end the file.
    private static func endRecord(_ handle: FileHandle, path: String) throws -> (tail: [UInt8], end: Int, size: UInt64) {
        let size = try handle.seekToEnd()
        let tailLength = min(size, 65_557)
        try handle.seek(toOffset: size - tailLength)
        let tail = [UInt8](try handle.read(upToCount: Int(tailLength)) ?? Data())
        guard let end = stride(from: tail.count - 22, through: 0, by: -1).first(where: { tail.uint32(at: $0) == 0x0605_4b50 }),
              end + 22 + Int(tail.uint16(at: end + 20)) == tail.count else {
            throw BundleError("\(path) is not a bundle (no ZIP directory at its end; truncated?)")
        }
        return (tail, end, size)
    }
}

private extension [UInt8] {
    func uint16(at offset: Int) -> UInt16 { UInt16(self[offset]) | UInt16(self[offset + 1]) << 8 }
    func uint32(at offset: Int) -> UInt32 { UInt32(uint16(at: offset)) | UInt32(uint16(at: offset + 2)) << 16 }
    func uint64(at offset: Int) -> UInt64 { UInt64(uint32(at: offset)) | UInt64(uint32(at: offset + 4)) << 32 }
}
