//! SASL APIs: SaslHandshake (17: 0-1, never flexible) and SaslAuthenticate (36: 0-2,
//! flexible 2+).

use bytes::Bytes;

use super::error::ErrorCode;
use super::wire::{MAX, messages};

messages! {
    /// SaslHandshake request.
    pub struct SaslHandshakeRequest {
        /// The SASL mechanism chosen by the client.
        mechanism: String [0, MAX],
    }

    /// SaslHandshake response.
    pub struct SaslHandshakeResponse {
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The mechanisms the server enables.
        mechanisms: Vec<String> [0, MAX],
    }

    /// SaslAuthenticate request.
    pub struct SaslAuthenticateRequest {
        /// The SASL bytes from the client (a zero-copy slice of the request frame).
        auth_bytes: Bytes [0, MAX],
    }

    /// SaslAuthenticate response.
    pub struct SaslAuthenticateResponse {
        /// The error code.
        error_code: ErrorCode [0, MAX],
        /// The error message.
        error_message: Option<String> [0, MAX],
        /// The SASL bytes from the server.
        auth_bytes: Bytes [0, MAX],
        /// The session lifetime in milliseconds, 0 for none (v1+).
        session_lifetime_ms: i64 [1, MAX],
    }
}
