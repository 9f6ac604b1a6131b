//! What each middleware of this crate has around its request handling, written once
//! ([`transform!`]).
//!
//! Every middleware here is a cheap-to-clone value (the session middleware's engine, a
//! configuration) that actix-web turns into a service for each worker, and that part is the
//! same in each: the `Transform` impl, the service struct holding the inner service and a
//! clone of the value, its `Debug`, the head of its `Service` impl. What differs is the body
//! of `Service::call`, which each middleware hands to the macro. A macro rather than one
//! generic service type, because the services are public types
//! (`SessionMiddlewareService`…) whose names stay.

/// ```text
/// transform!(
///     Middleware => MiddlewareService { field: Type },
///     B => ResponseBody,
///     fn call(inner, field, req) { … }
/// );
/// ```
/// The `Transform` impl of `Middleware` (its `field`, cloned into each service), and
/// `MiddlewareService` with its `Debug` and its `Service` impl, whose `call` is the block:
/// there `inner` is the inner service (an `Rc`), `field` the service's value (a reference)
/// and `req` the `ServiceRequest` (any pattern: `mut req`). `B` names the inner service's
/// body type in `ResponseBody`, the body of the responses the service answers with.
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};

macro_rules! transform {
    (
        $middleware:ident => $service:ident { $field:ident: $ty:ty },
        $body:ident => $response:ty,
        fn call($inner:ident, $value:ident, $req:pat) $call:block
    ) => {
        impl<S, $body> ::actix_web::dev::Transform<S, ::actix_web::dev::ServiceRequest>
            for $middleware
        where
            S: $crate::transform::Inner<Body = $body>,
            $body: ::actix_web::body::MessageBody + 'static,
        {
            type Response = ::actix_web::dev::ServiceResponse<$response>;
            type Error = ::actix_web::Error;
            type Transform = $service<S>;
            type InitError = ();
            type Future = ::std::future::Ready<Result<Self::Transform, Self::InitError>>;

            fn new_transform(&self, service: S) -> Self::Future {
                ::std::future::ready(Ok($service {
                    service: ::std::rc::Rc::new(service),
                    $field: self.$field.clone(),
                }))
            }
        }

        #[doc = concat!("The service made by [`", stringify!($middleware), "`].")]
        pub struct $service<S> {
            service: ::std::rc::Rc<S>,
            $field: $ty,
        }

        impl<S, $body> ::actix_web::dev::Service<::actix_web::dev::ServiceRequest> for $service<S>
        where
            S: $crate::transform::Inner<Body = $body>,
            $body: ::actix_web::body::MessageBody + 'static,
        {
            type Response = ::actix_web::dev::ServiceResponse<$response>;
            type Error = ::actix_web::Error;
            type Future = ::std::pin::Pin<
                Box<dyn ::std::future::Future<Output = Result<Self::Response, ::actix_web::Error>>>,
            >;

            ::actix_web::dev::forward_ready!(service);

            fn call(&self, req: ::actix_web::dev::ServiceRequest) -> Self::Future {
                let $inner = ::std::rc::Rc::clone(&self.service);
                let $value = &self.$field;
                let $req = req;
                $call
            }
        }

        impl<S> ::std::fmt::Debug for $service<S> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($service))
                    .field(stringify!($field), &self.$field)
                    .finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use transform;

/// The services a middleware of this crate wraps, the app below it (`Inner` is short for
/// that bound, named once for the two impls [`transform!`] writes); `Body` is the body
/// type of its responses.
pub trait Inner:
    Service<ServiceRequest, Response = ServiceResponse<Self::Body>, Error = actix_web::Error> + 'static
{
    /// The body of the inner service's responses.
    type Body: MessageBody + 'static;
}

impl<T, B> Inner for T
where
    T: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Body = B;
}
