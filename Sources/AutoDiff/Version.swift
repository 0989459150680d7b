/// This package's version (semantic versioning; CHANGELOG.md says what each version added).
public enum PackageVersion {
    /// `major.minor.patch`.
    public static let current = "0.1.0"
}
