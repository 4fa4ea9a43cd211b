# ACM certificate for BASE_DOMAIN and *.BASE_DOMAIN (DNS validation in Route 53), and the apex
# and wildcard records pointing at the ALB that the AWS Load Balancer Controller creates for
# the Ingress. That ALB exists only after the first deploy: the records are added by a second
# apply with its DNS name and zone id (README.md).

variable "base_domain" { type = string }
variable "hosted_zone_id" { type = string }
variable "load_balancer_dns" { type = string }
variable "load_balancer_zoneid" { type = string }

resource "aws_acm_certificate" "main" {
  domain_name               = var.base_domain
  subject_alternative_names = ["*.${var.base_domain}"]
  validation_method         = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

# The apex and the wildcard share one validation record; allow_overwrite lets both write it.
resource "aws_route53_record" "validation" {
  for_each = {
    for option in aws_acm_certificate.main.domain_validation_options : option.domain_name => {
      name   = option.resource_record_name
      type   = option.resource_record_type
      record = option.resource_record_value
    }
  }

  zone_id         = var.hosted_zone_id
  name            = each.value.name
  type            = each.value.type
  records         = [each.value.record]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "main" {
  certificate_arn         = aws_acm_certificate.main.arn
  validation_record_fqdns = [for record in aws_route53_record.validation : record.fqdn]
}

resource "aws_route53_record" "site" {
  for_each = var.load_balancer_dns == "" ? toset([]) : toset([var.base_domain, "*.${var.base_domain}"])

  zone_id = var.hosted_zone_id
  name    = each.value
  type    = "A"

  alias {
    name                   = var.load_balancer_dns
    zone_id                = var.load_balancer_zoneid
    evaluate_target_health = true
  }
}

output "certificate_arn" {
  value = aws_acm_certificate_validation.main.certificate_arn
}
