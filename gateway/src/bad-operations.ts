import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError, OperationTypeNode } from 'graphql';

const TOKEN_LIMIT_MESSAGE = /^Syntax Error: Document contains more th(?:at|an) (\d+) tokens\./;

/** `formatError` step: graphql-js's token-limit message ("more that N tokens. Parsing aborted.") in plain words. */
export function clarifyTokenLimit(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const limit = TOKEN_LIMIT_MESSAGE.exec(formatted.message)?.[1];
  if (!limit || formatted.extensions?.code !== ApolloServerErrorCode.GRAPHQL_PARSE_FAILED) return formatted;
  return { ...formatted, message: `Token limit of ${limit} exceeded: the operation is too large.` };
}

/** graphql-js's "Did you mean …?" (fields, arguments, types, enum values), or graphql-armor's mask of it. */
const SUGGESTION = / ?(?:Did you mean .+?|\[Suggestion hidden\])\?/g;

/**
 * `formatError` step for production: suggestions map the schema for whoever probes it with typos.
 * Here, unlike in validation only, they go from every message: a variable's bad enum value is
 * reported while variables are coerced.
 */
export function withoutSuggestions(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const message = formatted.message.replace(SUGGESTION, '');
  return message === formatted.message ? formatted : { ...formatted, message };
}

const clientError = (message: string, code: ApolloServerErrorCode) =>
  new GraphQLError(message, { extensions: { code, http: { status: 400 } } });

/**
 * Operations @apollo/gateway cannot plan are the client's mistake, answered 400 before planning: the
 * gateway would throw while executing them (HTTP 500 and an error log), where a lone Apollo Server
 * answers 400. These are a document whose operation cannot be picked (several and no or an unknown
 * `operationName`) and a subscription, which is not served over HTTP.
 */
export function rejectUnplannableOperations<Context extends BaseContext>(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, request }) {
          if (!operation) {
            throw clientError(
              request.operationName
                ? `Unknown operation named "${request.operationName}".`
                : 'Must provide operation name if query contains multiple operations.',
              ApolloServerErrorCode.OPERATION_RESOLUTION_FAILURE,
            );
          }
          if (operation.operation === OperationTypeNode.SUBSCRIPTION) {
            throw clientError(
              'Subscriptions are not available over HTTP: this endpoint serves queries and mutations.',
              ApolloServerErrorCode.BAD_REQUEST,
            );
          }
        },
      };
    },
  };
}
