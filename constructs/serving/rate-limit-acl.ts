import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

/** Headers that carry a client's API key (the service's auth accepts both). */
export const API_KEY_HEADERS = ['authorization', 'x-api-key'] as const;

/** WAF counts over this sliding window; the limit is requestsPerSecond × window. */
export const RATE_WINDOW_SECONDS = 60;

export interface RateLimitAclProps {
  /** Name of the web ACL and prefix of its CloudWatch metrics, e.g. `mlp-fraud-dev-serving`. */
  readonly name: string;
  /**
   * Requests per second one API key may send to the whole fleet, averaged over
   * RATE_WINDOW_SECONDS; above it WAF answers 429 for that key until its rate drops.
   */
  readonly requestsPerSecond: number;
}

/**
 * A regional AWS WAF web ACL for the team's load balancer: the fleet-wide rate limit per API
 * key, which holds however many pods the autoscaler runs. One rate-based rule per key header
 * (WAF skips a request that lacks a rule's key, so one rule with both headers would miss
 * clients that send only one). Requests without a key pass to the pods, which answer 401.
 * The ALB gets it through the Ingress annotation `alb.ingress.kubernetes.io/wafv2-acl-arn`.
 */
export class RateLimitAcl extends Construct {
  readonly webAclArn: string;
  /** The ACL's per-window request limit per key. */
  readonly limitPerWindow: number;

  constructor(scope: Construct, id: string, props: RateLimitAclProps) {
    super(scope, id);
    const { requestsPerSecond } = props;
    if (!Number.isInteger(requestsPerSecond) || requestsPerSecond < 1) {
      throw new Error(`${this.node.path}: requestsPerSecond ${requestsPerSecond} is invalid: use a whole number of at least 1`);
    }
    // WAF's own bounds for a rate-based rule's limit: 10 .. 2e9 per window.
    this.limitPerWindow = Math.min(2_000_000_000, Math.max(10, requestsPerSecond * RATE_WINDOW_SECONDS));
    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName,
      sampledRequestsEnabled: true,
    });
    const acl = new wafv2.CfnWebACL(this, 'Resource', {
      name: props.name,
      scope: 'REGIONAL',
      description: `Fleet-wide rate limit: ${requestsPerSecond} requests/s per API key (over ${RATE_WINDOW_SECONDS} s)`,
      defaultAction: { allow: {} },
      visibilityConfig: visibility(props.name),
      customResponseBodies: {
        rateLimited: {
          contentType: 'APPLICATION_JSON',
          content: JSON.stringify({
            error: `rate limit of ${requestsPerSecond} requests/s exceeded for this API key (all replicas together)`,
            code: 'rate_limited',
          }),
        },
      },
      rules: API_KEY_HEADERS.map((header, priority) => ({
        name: `RatePerApiKey-${header}`,
        priority,
        action: {
          block: {
            customResponse: {
              responseCode: 429,
              customResponseBodyKey: 'rateLimited',
              responseHeaders: [{ name: 'retry-after', value: String(RATE_WINDOW_SECONDS) }],
            },
          },
        },
        statement: {
          rateBasedStatement: {
            aggregateKeyType: 'CUSTOM_KEYS',
            customKeys: [{ header: { name: header, textTransformations: [{ priority: 0, type: 'NONE' }] } }],
            evaluationWindowSec: RATE_WINDOW_SECONDS,
            limit: this.limitPerWindow,
          },
        },
        visibilityConfig: visibility(`${props.name}-rate-${header}`),
      })),
    });
    this.webAclArn = acl.attrArn;
  }
}
