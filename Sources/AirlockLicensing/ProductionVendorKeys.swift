/// The vendor's production signing keys, exactly as in `licenses/trusted-keys` (a test compares
/// the two). Empty until the vendor's key ceremony: until then an appliance runs in evaluation
/// mode unless a development key file is configured.
enum ProductionVendorKeys {
    static let lines = """
        """
}
