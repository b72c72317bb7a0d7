//! ApiVersions (key 18): versions 0-3, flexible from 3. Its response always uses
//! response header v0, even in flexible versions, so old clients can parse the error.

use super::error::ErrorCode;
use super::wire::{MAX, messages};
use super::{ApiRange, SUPPORTED_APIS};

messages! {
    /// ApiVersions request.
    pub struct ApiVersionsRequest {
        /// The name of the client software (v3+).
        client_software_name: String [3, MAX],
        /// The version of the client software (v3+).
        client_software_version: String [3, MAX],
    }

    /// ApiVersions response.
    pub struct ApiVersionsResponse {
        /// The top-level error code.
        error_code: ErrorCode [0, MAX],
        /// The APIs supported by the broker.
        api_keys: Vec<ApiVersion> [0, MAX],
        /// Throttle time in milliseconds (v1+).
        throttle_time_ms: i32 [1, MAX],
    }

    /// One supported API and its version range.
    pub struct ApiVersion {
        /// The API key.
        api_key: i16 [0, MAX],
        /// The minimum supported version, inclusive.
        min_version: i16 [0, MAX],
        /// The maximum supported version, inclusive.
        max_version: i16 [0, MAX],
    }
}

impl From<&ApiRange> for ApiVersion {
    fn from(range: &ApiRange) -> Self {
        Self {
            api_key: range.key as i16,
            min_version: range.min,
            max_version: range.max,
        }
    }
}

impl ApiVersionsResponse {
    /// The response listing every API in [`SUPPORTED_APIS`] with `error_code`.
    ///
    /// For a request with an unsupported version, pass [`ErrorCode::UNSUPPORTED_VERSION`] and
    /// encode the response with a header whose `api_version` is 0 (Kafka's KIP-511 rule).
    pub fn supported(error_code: ErrorCode) -> Self {
        Self {
            error_code,
            api_keys: SUPPORTED_APIS.iter().map(ApiVersion::from).collect(),
            throttle_time_ms: 0,
        }
    }
}
