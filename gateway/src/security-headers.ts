// The headers every answer carries live in the platform kit (createHttpApp adds them to every
// service, the gateway included); the plain-http redirect listener adds them here.
export { addSecurityHeaders } from '@bilten/platform';
