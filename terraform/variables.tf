variable "project" {
  description = "Prefix of every resource name."
  type        = string
  default     = "rapport"
}

variable "environment" {
  description = "staging or production; production gets a NAT gateway per zone and deletion protection."
  type        = string
  default     = "production"

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "base_domain" {
  description = "The public site's host; workspaces live at <slug>.<base_domain>."
  type        = string
}

variable "hosted_zone_id" {
  description = "Route 53 zone that holds base_domain."
  type        = string
}

variable "ingress_load_balancer_dns_name" {
  description = "DNS name of the ALB that the AWS Load Balancer Controller created for the Ingress (second apply; empty: no apex/wildcard records yet)."
  type        = string
  default     = ""
}

variable "ingress_load_balancer_zone_id" {
  description = "Hosted zone id of that ALB (aws elbv2 describe-load-balancers)."
  type        = string
  default     = ""
}

variable "vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "az_count" {
  type    = number
  default = 3
}

variable "kubernetes_version" {
  type    = string
  default = "1.30"
}

variable "kubernetes_namespace" {
  description = "Namespace of the production overlay (infra/k8s/overlays/production)."
  type        = string
  default     = "rapport"
}

variable "cluster_public_api_cidrs" {
  description = "Addresses allowed to reach the EKS API endpoint (operators, CI)."
  type        = list(string)
  default     = []
}

variable "node_instance_types" {
  type    = list(string)
  default = ["m6i.large"]
}

variable "node_min" {
  type    = number
  default = 3
}

variable "node_max" {
  type    = number
  default = 12
}

variable "node_desired" {
  type    = number
  default = 3
}

variable "db_instance_class" {
  type    = string
  default = "db.r6g.large"
}

variable "db_allocated_storage" {
  type    = number
  default = 100
}

variable "db_max_allocated_storage" {
  type    = number
  default = 1000
}

variable "db_multi_az" {
  type    = bool
  default = true
}

variable "db_backup_retention_days" {
  description = "Automated backups and point-in-time recovery window."
  type        = number
  default     = 14
}

variable "redis_node_type" {
  type    = string
  default = "cache.r6g.large"
}

variable "documents_noncurrent_version_days" {
  description = "How long overwritten or deleted documents stay restorable."
  type        = number
  default     = 90
}

variable "log_retention_days" {
  type    = number
  default = 365
}

variable "secrets_kms_key_id" {
  description = "KMS key for the application secret (empty: the AWS managed key)."
  type        = string
  default     = null
}

variable "email_host_password" {
  type      = string
  default   = ""
  sensitive = true
}
