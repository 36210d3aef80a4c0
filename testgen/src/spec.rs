//! The description of a generated archive: images, their shapes and platforms, and layers as
//! (size, seed) pairs; plus the platform list tests, benches and examples draw from.

/// Platforms for generated archives, in the order tests, benches and examples take them.
pub const PLATFORMS: [&str; 8] = [
    "linux/amd64",
    "linux/arm64/v8",
    "linux/arm/v7",
    "linux/s390x",
    "linux/ppc64le",
    "linux/386",
    "linux/riscv64",
    "linux/arm/v6",
];

/// One layer: `size` deterministic bytes derived from `seed` (same seed → same blob).
#[derive(Debug, Clone)]
pub struct LayerSpec {
    pub size: u64,
    pub seed: u64,
}

/// One platform manifest of an image.
#[derive(Debug, Clone)]
pub struct PlatformSpec {
    /// `os/arch[/variant]`.
    pub platform: String,
    pub layers: Vec<LayerSpec>,
    /// Add a BuildKit attestation manifest for it.
    pub attestation: bool,
    /// Add an OCI 1.1 referrer (a manifest with `subject`) for it, in the same index.
    pub referrer: bool,
    /// Leave the manifest and its children out (shallow archive).
    pub missing: bool,
    /// Leave the platform out of the descriptor (platform only in the config).
    pub no_descriptor_platform: bool,
}

impl PlatformSpec {
    pub fn new(platform: &str, layers: Vec<LayerSpec>) -> PlatformSpec {
        PlatformSpec {
            platform: platform.into(),
            layers,
            attestation: false,
            referrer: false,
            missing: false,
            no_descriptor_platform: false,
        }
    }
}

/// How an image's root looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An OCI image index as the root (buildah, containerd).
    OciIndex,
    /// A Docker manifest list as the root.
    DockerList,
    /// An index.json entry pointing at an index that wraps the image index (nested twice).
    Nested,
    /// Each platform manifest listed directly in index.json (flat; Docker classic store).
    Flat,
}

/// One image.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub name: Option<String>,
    pub shape: Shape,
    pub platforms: Vec<PlatformSpec>,
}

/// A whole archive.
#[derive(Debug, Clone, Default)]
pub struct ArchiveSpec {
    pub images: Vec<ImageSpec>,
    /// Write Docker's `manifest.json` and `repositories` (Docker 25+ `docker save`).
    pub docker_manifest: bool,
    /// Orphan blobs nothing references (Docker 25+ leaves legacy v1 JSON behind).
    pub orphans: usize,
    /// Use the containerd name annotation (`io.containerd.image.name`) besides the ref name.
    pub containerd_names: bool,
}

/// An image whose root is an OCI index, named `name`, with the first `n` of [`PLATFORMS`]:
/// platform `i` has the layers `layers(i)` and, when asked, an attestation.
pub fn oci_image(
    name: &str,
    n: usize,
    attestations: bool,
    layers: impl Fn(usize) -> Vec<LayerSpec>,
) -> ImageSpec {
    let platform = |(i, p): (usize, &&str)| {
        let mut ps = PlatformSpec::new(p, layers(i));
        ps.attestation = attestations;
        ps
    };
    ImageSpec {
        name: Some(name.into()),
        shape: Shape::OciIndex,
        platforms: PLATFORMS.iter().take(n).enumerate().map(platform).collect(),
    }
}

/// A typical multi-platform image: the first `n` of [`PLATFORMS`], each with one own layer of
/// `layer` bytes plus one shared layer, and attestations when asked.
pub fn multi_platform(name: &str, n: usize, layer: u64, attestations: bool) -> ImageSpec {
    oci_image(name, n, attestations, |i| {
        vec![
            LayerSpec {
                size: layer,
                seed: 1000 + i as u64,
            },
            LayerSpec {
                size: layer / 2 + 1,
                seed: 7,
            },
        ]
    })
}
