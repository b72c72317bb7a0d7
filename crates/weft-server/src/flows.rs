//! Flows in the node: the controller (its state in `<data_dir>/flows`), the resources
//! API and webhook sources served on the HTTP listener, and the GitOps directory
//! (`--resources DIR`, `--watch`).

mod api;
mod watch;

use std::sync::Arc;

use weft_broker::Broker;
use weft_flow::Controller;
use weft_flow::runtime::WebhookError;
use weft_http::problem::Problem;
use weft_http::{RequestService, ServicePaths, ServiceRequest, ServiceResponse};

use crate::config::Config;

pub(crate) use watch::start as start_gitops;

/// The largest body the resources API accepts (manifests of a whole directory).
const MAX_MANIFEST_BYTES: usize = 16 * 1024 * 1024;

/// Opens the controller: reads the stored flows and starts them.
pub(crate) async fn open(
    config: &Config,
    broker: &Broker,
) -> Result<Controller, weft_flow::controller::StoreError> {
    let options = weft_flow::ControllerOptions::new(
        config.data_dir.join("flows"),
        config.node_name.to_string(),
    );
    Controller::open(broker.clone(), options).await
}

/// The HTTP services of flows: `/v1/resources…` and every webhook source's path.
pub(crate) fn services(
    controller: &Controller,
    broker: &Broker,
    max_event_bytes: usize,
) -> Vec<RequestService> {
    let (api, broker) = (controller.clone(), broker.clone());
    let resources = RequestService::new(
        ServicePaths::Prefix(api::PREFIX.to_owned()),
        MAX_MANIFEST_BYTES,
        move |request| {
            let (controller, broker) = (api.clone(), broker.clone());
            async move { api::handle(&controller, &broker, request).await }
        },
    );
    let lookup = controller.clone();
    let hooks = controller.clone();
    let webhooks = RequestService::new(
        ServicePaths::Dynamic(Arc::new(move |path| lookup.webhook(path).is_some())),
        max_event_bytes,
        move |request| {
            let controller = hooks.clone();
            async move { webhook(&controller, request).await }
        },
    );
    vec![resources, webhooks]
}

/// A request on a webhook source's path: `POST` with a JSON body → `202 {"id": ...}`.
async fn webhook(controller: &Controller, request: ServiceRequest) -> ServiceResponse {
    let problem = |problem: Problem| ServiceResponse::problem(&problem, serde_json::Map::new());
    let Some(source) = controller.webhook(&request.path) else {
        return problem(Problem::not_found(&request.path));
    };
    if request.method != http::Method::POST {
        return problem(api::method_not_allowed(&request, "POST"));
    }
    let signature = request
        .headers
        .get(weft_flow::runtime::webhook::SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok());
    match source.receive(signature, request.body).await {
        Ok(id) => ServiceResponse::json(
            http::StatusCode::ACCEPTED,
            &serde_json::json!({ "ids": [id] }),
        ),
        Err(error) => problem(webhook_problem(error)),
    }
}

fn webhook_problem(error: WebhookError) -> Problem {
    use http::StatusCode;
    let detail = error.to_string();
    match error {
        WebhookError::MissingSignature | WebhookError::InvalidSignature => Problem::new(
            StatusCode::UNAUTHORIZED,
            "invalid-signature",
            "invalid webhook signature",
            detail,
        ),
        WebhookError::NotJson { .. } => Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-json",
            "body is not json",
            detail,
        ),
        WebhookError::Publish(error) => Problem::from(error),
        WebhookError::Event(error) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "invalid-event",
            "invalid cloudevent",
            format!("{detail}: {error}"),
        ),
    }
}
