// Matchers such as toHaveReceivedCommandWith for the clients aws-sdk-client-mock replaces.
import "aws-sdk-client-mock-vitest/extend";
