//! uniffi bindings of `onsite-sdk` for Android (Kotlin) and iOS (Swift).
//!
//! Not built yet: this crate holds the workspace's place for the bindings, which will be thin
//! wrappers over the SDK with one small public error type.
