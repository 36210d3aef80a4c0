//! Synthetic archives for ocislim's tests, property tests, benches and examples: the shapes no
//! tool on the build machine writes (Docker 25+ classic `docker save`, Docker's containerd store
//! with attestations and missing platforms, flat multi-platform `index.json`), built from a small
//! description with deterministic pseudo-random layer bytes. A dev-dependency only: nothing here
//! is compiled into ocislim.

mod archive;
mod digest;
mod noise;
mod spec;

pub use archive::write_archive;
pub use noise::{noise, Noise};
pub use spec::{
    multi_platform, oci_image, ArchiveSpec, ImageSpec, LayerSpec, PlatformSpec, Shape, PLATFORMS,
};
