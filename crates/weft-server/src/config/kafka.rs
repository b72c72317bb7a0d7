//! The Kafka front end's settings: [`KafkaConfig`] and its [`Advertised`] address.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::str::FromStr;

use super::listen::Listen;

/// The Kafka front end's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// Where to listen (default `127.0.0.1:9092`), or [`Listen::Off`].
    pub listen: Listen,
    /// The address clients are told to connect to; by default the listen address with
    /// the bound port, `127.0.0.1` for an unspecified IP (librdkafka resolves
    /// `localhost` to `::1` first, so an IPv4 literal is the safe default).
    pub advertised: Option<Advertised>,
    /// Whether Metadata requests create missing topics (default true).
    pub auto_create_topics: bool,
    /// Partitions of an auto-created topic (default 1).
    pub default_partitions: u32,
    /// How long a request may take to arrive once its first byte did (default 30 s).
    pub request_timeout: std::time::Duration,
    /// The most bytes all connections together hold for requests still arriving
    /// (default 256 MiB).
    pub max_incomplete_request_bytes: u64,
}

impl KafkaConfig {
    /// The default Kafka listen address.
    pub const DEFAULT_LISTEN: Listen =
        Listen::Addr(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9092)));

    /// The host and port to advertise for a listener bound at `bound`.
    #[must_use]
    pub fn advertised_for(&self, bound: SocketAddr) -> (String, u16) {
        match &self.advertised {
            Some(Advertised { host, port }) => (host.clone(), port.unwrap_or(bound.port())),
            None => {
                let ip = if bound.ip().is_unspecified() {
                    Ipv4Addr::LOCALHOST.into()
                } else {
                    bound.ip()
                };
                (ip.to_string(), bound.port())
            }
        }
    }
}

impl Default for KafkaConfig {
    fn default() -> KafkaConfig {
        KafkaConfig {
            listen: KafkaConfig::DEFAULT_LISTEN,
            advertised: None,
            auto_create_topics: true,
            default_partitions: 1,
            request_timeout: weft_kafka::KafkaConfig::default().request_read_timeout,
            max_incomplete_request_bytes: weft_kafka::KafkaConfig::default()
                .max_incomplete_request_bytes as u64,
        }
    }
}

/// An advertised address: `HOST` or `HOST:PORT` (a host name or an IP; an IPv6 address
/// with a port is written `[::1]:9092`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertised {
    /// The host.
    pub host: String,
    /// The port; the bound port when absent.
    pub port: Option<u16>,
}

/// Why a text is not an [`Advertised`] address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid advertised address `{input}`, expected HOST or HOST:PORT such as 127.0.0.1:9092")]
pub struct AdvertisedError {
    /// The text as given.
    pub input: String,
}

impl FromStr for Advertised {
    type Err = AdvertisedError;

    fn from_str(text: &str) -> Result<Advertised, AdvertisedError> {
        let input = text.trim();
        let invalid = || AdvertisedError {
            input: input.to_owned(),
        };
        if let Ok(address) = input.parse::<SocketAddr>() {
            return Ok(Advertised {
                host: address.ip().to_string(),
                port: Some(address.port()),
            });
        }
        if input.parse::<std::net::IpAddr>().is_ok() {
            return Ok(Advertised {
                host: input.to_owned(),
                port: None,
            });
        }
        let (host, port) = match input.rsplit_once(':') {
            Some((host, port)) => (host, Some(port.parse::<u16>().map_err(|_| invalid())?)),
            None => (input, None),
        };
        let valid_host = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !valid_host {
            return Err(invalid());
        }
        Ok(Advertised {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for Advertised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) if self.host.contains(':') => write!(f, "[{}]:{port}", self.host),
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// A partition count for auto-created topics: 1 to 1024.
pub(super) fn parse_partitions(text: &str) -> Result<u32, super::ValueError> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|count| (1..=1024).contains(count))
        .ok_or_else(|| super::ValueError::Partitions {
            input: text.to_owned(),
        })
}

/// A boolean setting: `true` or `false`.
pub(super) fn parse_bool(text: &str) -> Result<bool, super::ValueError> {
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(super::ValueError::Bool {
            input: text.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn advertised_addresses_parse_with_and_without_ports() {
        let parse = |text: &str| text.parse::<Advertised>().unwrap();
        assert_eq!(parse("broker.example:19092").port, Some(19092));
        assert_eq!(parse("broker.example").port, None);
        assert_eq!(parse("10.0.0.5").host, "10.0.0.5");
        assert_eq!(parse("[::1]:9092").host, "::1");
        assert!("bad host:1".parse::<Advertised>().is_err());
        assert!("host:notaport".parse::<Advertised>().is_err());
    }

    #[test]
    fn the_default_advertises_an_ipv4_literal_and_the_bound_port() {
        let config = KafkaConfig::default();
        assert_eq!(
            config.advertised_for("0.0.0.0:4321".parse().unwrap()),
            ("127.0.0.1".to_owned(), 4321)
        );
        let config = KafkaConfig {
            advertised: Some("kafka.local".parse().unwrap()),
            ..KafkaConfig::default()
        };
        assert_eq!(
            config.advertised_for("127.0.0.1:9092".parse().unwrap()),
            ("kafka.local".to_owned(), 9092)
        );
    }
}
