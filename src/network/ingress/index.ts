// The built-in Ingress controller (class "k8ts", controller k8ts.io/ingress).
export { IngressController, type IngressControllerOptions, type IngressLogger, CONTROLLER_NAME, DEFAULT_CLASS_ANNOTATION } from './controller.js';
export { DEFAULT_PUBLISHED_SERVICE, type PublishedService } from './published-service.js';
