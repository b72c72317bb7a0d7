//! Route explanation: where an event on a topic published at this node would go, and
//! why (`weft mesh route`, `GET /v1/mesh/route`). Computed from the same state as
//! [`MeshNode::publish_local`], without publishing anything.

use serde::Serialize;
use weft_core::topic::Topic;

use super::MeshNode;
use crate::interest::InterestKind;

/// One remote interest entry that matches the topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteMatch {
    /// The filter the remote node advertised.
    pub filter: String,
    /// `live`, `durable` or `queue`.
    pub kind: &'static str,
    /// The queue group, for `queue`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// One remote node the event would be for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteTarget {
    /// The node.
    pub node: String,
    /// Whether it is reachable now (a durable target that is not waits in the outbox).
    pub reachable: bool,
    /// Whether the event would be stored and forwarded for it (durable interest).
    pub durable: bool,
    /// Whether it gets the event at all (live or durable interest, or chosen for a
    /// queue group).
    pub receives: bool,
    /// The path on this node's shortest-path tree, this node first.
    pub path: Vec<String>,
    /// Its matching interest entries.
    pub matches: Vec<RouteMatch>,
    /// Unacknowledged durable events waiting for it now.
    pub outbox_depth: usize,
}

/// One queue group's choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupChoice {
    /// The group.
    pub group: String,
    /// Nodes with matching members.
    pub members: Vec<String>,
    /// The node that would serve it (`local` members win: then this node).
    pub chosen: Option<String>,
    /// Why.
    pub reason: String,
}

/// Where an event on a topic published at this node would travel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteExplanation {
    /// This node.
    pub origin: String,
    /// The topic.
    pub topic: String,
    /// Whether local live subscriptions or streams want it (delivered by the broker).
    pub local: bool,
    /// Remote nodes with matching interest.
    pub targets: Vec<RouteTarget>,
    /// Tree edges the copy would cross, `(from, to)`, each once.
    pub edges: Vec<(String, String)>,
    /// The neighbours this node would send a copy to.
    pub next_hops: Vec<String>,
    /// Queue groups with matching members.
    pub groups: Vec<GroupChoice>,
}

impl MeshNode {
    /// Explains where an event on `topic` published here now would go.
    pub fn explain_route(&mut self, topic: &Topic) -> RouteExplanation {
        let me = self.config.node.clone();
        let targets = self.targets(topic);
        let assignments = self.assign_groups(topic, &targets);
        let mut groups = Vec::new();
        for (group, members) in &targets.groups {
            let assigned = assignments.iter().find(|a| &a.group == group);
            let (chosen, reason) = match assigned {
                Some(assignment) => (
                    Some(assignment.node.to_string()),
                    "no local member: the nearest member node, then by name".to_owned(),
                ),
                None if self.has_local_member(topic, group) => (
                    Some(me.to_string()),
                    "a local member is preferred".to_owned(),
                ),
                None => (None, "no member node is reachable".to_owned()),
            };
            groups.push(GroupChoice {
                group: group.to_string(),
                members: members.iter().map(ToString::to_string).collect(),
                chosen,
                reason,
            });
        }
        let mut receivers: Vec<_> = targets.nodes.iter().cloned().collect();
        receivers.extend(assignments.iter().map(|a| a.node.clone()));
        let mut all = receivers.clone();
        all.extend(targets.groups.values().flatten().cloned());
        all.sort();
        all.dedup();
        let tree = self.tree(&me).clone();
        let mut edges = Vec::new();
        let mut result = Vec::new();
        for node in &all {
            let receives = receivers.contains(node);
            let path: Vec<String> = tree
                .path_to(node)
                .unwrap_or_default()
                .iter()
                .map(ToString::to_string)
                .collect();
            if receives {
                for pair in path.windows(2) {
                    edges.push((pair[0].clone(), pair[1].clone()));
                }
            }
            let matches = self
                .remote
                .entries(node)
                .filter(|entry| entry.filter.matches(topic))
                .map(|entry| RouteMatch {
                    filter: entry.filter.as_str().to_owned(),
                    kind: match entry.kind {
                        InterestKind::Live => "live",
                        InterestKind::Durable => "durable",
                        InterestKind::Queue(_) => "queue",
                    },
                    group: match &entry.kind {
                        InterestKind::Queue(group) => Some(group.to_string()),
                        _ => None,
                    },
                })
                .collect();
            result.push(RouteTarget {
                node: node.to_string(),
                reachable: self.reachable.contains(node),
                durable: targets.durable.contains(node),
                receives,
                path,
                matches,
                outbox_depth: self.outbox.depth(node),
            });
        }
        edges.sort();
        edges.dedup();
        let mut next_hops: Vec<String> = edges
            .iter()
            .filter(|(from, _)| from == me.as_str())
            .map(|(_, to)| to.clone())
            .collect();
        next_hops.dedup();
        RouteExplanation {
            origin: me.to_string(),
            topic: topic.as_str().to_owned(),
            local: self.wants_locally(topic),
            targets: result,
            edges,
            next_hops,
            groups,
        }
    }
}
