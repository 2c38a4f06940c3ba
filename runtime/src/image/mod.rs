//! The image store: OCI images imported from an OCI layout directory, an OCI archive tar or a
//! `docker save` tar; layers unpacked once, content-addressed by diff id, shared by every
//! image and container; whiteouts turned into overlayfs whiteouts.
//!
//! (Being written: see the interface the rest of the runtime uses below.)
