//! [`Listen`]: where a protocol listener binds, or `off`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// Where a listener binds: a socket address (port 0 picks a free port), or `off` for
/// no listener at all.
///
/// Every protocol's config uses this type (`http.listen` now; Kafka, MQTT and mesh
/// listeners later), each with its own default, and spells it the same way in YAML,
/// environment variables and flags: `127.0.0.1:8080`, `[::1]:8080`, `0.0.0.0:0` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listen {
    /// No listener.
    Off,
    /// Bind this address.
    Addr(SocketAddr),
}

/// Why a text is not a [`Listen`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenError {
    /// An IP address without a port.
    #[error("listen address `{input}` has no port, write it as IP:PORT such as {example}")]
    MissingPort {
        /// The text as given.
        input: String,
        /// The address with a port added.
        example: String,
    },
    /// A host name, which is not resolved.
    #[error(
        "listen address `{input}` names a host, write an IP address instead such as 127.0.0.1:{port} or 0.0.0.0:{port}"
    )]
    HostName {
        /// The text as given.
        input: String,
        /// The port as written.
        port: u16,
    },
    /// Anything else.
    #[error(
        "invalid listen address `{input}`, expected `off` or IP:PORT such as 127.0.0.1:8080 or [::1]:8080"
    )]
    Invalid {
        /// The text as given.
        input: String,
    },
}

impl Listen {
    /// The address to bind, or `None` when off.
    #[must_use]
    pub fn addr(&self) -> Option<SocketAddr> {
        match self {
            Listen::Off => None,
            Listen::Addr(addr) => Some(*addr),
        }
    }

    /// Whether the listener is disabled.
    #[must_use]
    pub fn is_off(&self) -> bool {
        matches!(self, Listen::Off)
    }
}

impl From<SocketAddr> for Listen {
    fn from(addr: SocketAddr) -> Listen {
        Listen::Addr(addr)
    }
}

impl FromStr for Listen {
    type Err = ListenError;

    fn from_str(text: &str) -> Result<Listen, ListenError> {
        let input = text.trim();
        if input.eq_ignore_ascii_case("off") {
            return Ok(Listen::Off);
        }
        if let Ok(addr) = input.parse::<SocketAddr>() {
            return Ok(Listen::Addr(addr));
        }
        if let Ok(ip) = input.parse::<IpAddr>() {
            let example = SocketAddr::new(ip, 8080).to_string();
            return Err(ListenError::MissingPort {
                input: input.to_owned(),
                example,
            });
        }
        if let Some((host, port)) = input.rsplit_once(':')
            && let Ok(port) = port.parse::<u16>()
            && !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(ListenError::HostName {
                input: input.to_owned(),
                port,
            });
        }
        Err(ListenError::Invalid {
            input: input.to_owned(),
        })
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Off => formatter.write_str("off"),
            Listen::Addr(addr) => write!(formatter, "{addr}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_disables_the_listener() {
        assert_eq!("off".parse(), Ok(Listen::Off));
        assert_eq!("OFF".parse(), Ok(Listen::Off));
        assert_eq!(Listen::Off.addr(), None);
        assert_eq!(Listen::Off.to_string(), "off");
    }

    #[test]
    fn ipv4_and_ipv6_addresses_parse() {
        let v4: Listen = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(v4.addr(), Some(SocketAddr::from(([127, 0, 0, 1], 8080))));
        let v6: Listen = "[::1]:9000".parse().unwrap();
        assert_eq!(v6.to_string(), "[::1]:9000");
    }

    #[test]
    fn port_zero_is_allowed() {
        let listen: Listen = "0.0.0.0:0".parse().unwrap();
        assert_eq!(listen.addr().map(|addr| addr.port()), Some(0));
    }

    #[test]
    fn address_without_port_says_so() {
        let error = "127.0.0.1".parse::<Listen>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "listen address `127.0.0.1` has no port, write it as IP:PORT such as 127.0.0.1:8080"
        );
    }

    #[test]
    fn host_names_are_not_resolved() {
        let error = "localhost:8080".parse::<Listen>().unwrap_err();
        assert!(matches!(error, ListenError::HostName { port: 8080, .. }));
    }

    #[test]
    fn out_of_range_port_and_garbage_are_invalid() {
        for input in ["127.0.0.1:99999", "banana", ":8080", ""] {
            let error = input.parse::<Listen>().unwrap_err();
            assert!(
                matches!(error, ListenError::Invalid { .. }),
                "{input}: {error}"
            );
        }
    }
}
