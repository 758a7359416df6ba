//! `GET /openapi.json`: every route and its errors, from the handlers' own
//! annotations. utoipa derives the document at compile time from the
//! `#[utoipa::path]` beside each handler, so a route cannot change without
//! its description being recompiled with it; its Swagger UI crate is left out
//! (it downloads its assets while building), and `/docs` renders the document
//! with a small page of our own.

use super::routes;
use super::schema;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "emo serve",
        description = "Text-emotion classification over HTTP: a saved emo model, its frozen encoder, dynamic batching."
    ),
    paths(
        routes::classify,
        routes::embed,
        routes::quantify,
        routes::model,
        routes::health,
        routes::ready,
        routes::metrics,
        json,
        docs,
        routes::page,
        routes::report
    ),
    components(schemas(
        schema::ClassifyRequest,
        schema::ClassifyResponse,
        schema::ClassifyResult,
        schema::Scored,
        schema::EmbedRequest,
        schema::EmbedResponse,
        schema::EmbedResult,
        schema::QuantifyRequest,
        schema::QuantifyResponse,
        schema::ShareOf,
        schema::ErrorBody,
        schema::Status,
        schema::ModelInfo
    ))
)]
struct Doc;

/// The document as JSON text.
pub fn document() -> String {
    Doc::openapi()
        .to_json()
        .expect("the OpenAPI document serialises")
}

/// This document
#[utoipa::path(get, path = "/openapi.json", responses(
    (status = 200, description = "the OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}

/// The API documentation, for people
#[utoipa::path(get, path = "/docs", responses((status = 200, description = "an HTML page", content_type = "text/html")))]
pub async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}
