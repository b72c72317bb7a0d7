//! The authorisation seam. Every publish and subscribe names a [`Principal`] and asks the
//! broker's [`Authorizer`]; today the only implementation is [`AllowAll`], and the
//! security work plugs real ACLs in here without touching any front end.

use std::fmt;
use std::sync::Arc;

use weft_core::{Filter, Topic};

/// Who is acting: an authenticated user, or the anonymous principal of an
/// unauthenticated connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    name: Arc<str>,
}

impl Principal {
    /// The principal of a connection that did not authenticate.
    pub fn anonymous() -> Self {
        Self::named("anonymous")
    }

    /// A principal with the given (already authenticated) name.
    pub fn named(name: impl Into<Arc<str>>) -> Self {
        Self { name: name.into() }
    }

    /// The principal's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// What a principal wants to do.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    /// Publish an event on a topic.
    Publish(&'a Topic),
    /// Subscribe with a filter.
    Subscribe(&'a Filter),
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("principal {principal} may not {action}")]
pub struct Denied {
    /// The principal's name.
    pub principal: String,
    /// The refused action, for humans (`publish on orders/x`).
    pub action: String,
}

/// Decides whether a principal may perform an action. Called on every publish and
/// subscribe, so implementations must be cheap and must not block.
pub trait Authorizer: Send + Sync + 'static {
    /// `Ok(())` when allowed.
    fn authorize(&self, principal: &Principal, action: Action<'_>) -> Result<(), Denied>;
}

/// Allows everything: the default until ACLs exist.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Authorizer for AllowAll {
    fn authorize(&self, _principal: &Principal, _action: Action<'_>) -> Result<(), Denied> {
        Ok(())
    }
}
