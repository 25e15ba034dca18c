/** Caliper 1.1 / 1.2 event ingest: the endpoint, its validator, storage and the learning-events API. */
export { caliperRouter, CALIPER_ROUTE, type CaliperDeps, type PartialAcceptance, type RejectedItem } from './router';
export { learningEventRoutes } from './api';
export { checkEnvelope, validateEntity, validateEvent, validateItem, type Problem, type Rule } from './validate';
export { writeEnvelope, listEvents } from './store';
